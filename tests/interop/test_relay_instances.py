"""Scale-out as operators run it: two and three `stompbox serve` processes relaying to one
real broker (RabbitMQ, then ActiveMQ) share topics and queues, and reach each other's
users; clients are stomp.py and the stompbox client, over TCP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import pytest

import stompbox

from ..server.helpers import RawClient, stomp_client
from ..server.serve_process import ServeProcess
from ..support import free_port, run, wait_for_port
from ..support import stompbox as stompbox_command

APP = f"{Path(__file__).with_name('relay_app.py')}:app"


@contextlib.contextmanager
def instances(
    count: int, relay: str, *extra: str, configs: list[Path] | None = None
) -> Iterator[list[int]]:
    """``count`` serve processes relaying to ``relay``; their STOMP ports. Each must stop
    cleanly on SIGTERM; if one does not, its log says why."""
    ports = [free_port() for _ in range(count)]
    with contextlib.ExitStack() as files:
        logs = [files.enter_context(tempfile.TemporaryFile()) for _ in ports]
        yield from _run_instances(ports, logs, relay, extra, configs)


def _run_instances(
    ports: list[int],
    logs: Sequence[IO[bytes]],
    relay: str,
    extra: tuple[str, ...],
    configs: list[Path] | None,
) -> Iterator[list[int]]:
    processes = [
        subprocess.Popen(
            stompbox_command(
                "serve", "--port", str(port), "--ws-port", "0", "--relay", relay, *extra
            )
            + (["--config", str(configs[index])] if configs else []),
            stderr=logs[index],
        )
        for index, port in enumerate(ports)
    ]
    try:
        for port in ports:
            wait_for_port(port)
        yield ports
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process, log in zip(processes, logs, strict=True):
            code: int | None = None
            try:
                code = process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
            log.seek(0)
            assert code == 0, log.read().decode()[-3000:]


def test_three_instances_share_topics_and_queues(relayed: str) -> None:
    topic = f"/topic/scale-{uuid.uuid4().hex[:8]}"
    queue = f"/queue/scale-{uuid.uuid4().hex[:8]}"
    with instances(3, relayed) as ports:
        listeners = []
        connections = []
        for index, port in enumerate(ports):
            conn, listener = stomp_client(port)
            conn.subscribe(topic, id="t", receipt=f"t{index}")
            assert listener.receipts.get(timeout=5) == f"t{index}"
            conn.subscribe(queue, id="q", ack="client-individual", receipt=f"q{index}")
            assert listener.receipts.get(timeout=5) == f"q{index}"
            listeners.append(listener)
            connections.append(conn)
        publisher, _ = stomp_client(ports[1])
        publisher.send(topic, "to every instance")
        for listener in listeners:  # a topic message reaches subscribers of all three
            assert listener.get().body == "to every instance"
        for i in range(30):
            publisher.send(queue, f"job {i}", headers={"persistent": "true"})
        taken: list[str] = []
        deadline = time.monotonic() + 15
        while len(taken) < 30 and time.monotonic() < deadline:
            for conn, listener in zip(connections, listeners, strict=True):
                with contextlib.suppress(Exception):
                    frame = listener.get(timeout=0.05)
                    taken.append(frame.body)
                    conn.ack(frame.headers["ack"])
        # competing consumers across instances: each job once, none lost
        assert sorted(taken) == sorted(f"job {i}" for i in range(30))
        for conn in [*connections, publisher]:
            conn.disconnect()


def test_send_to_user_reaches_the_user_on_another_instance(relayed: str) -> None:
    async def main(ports: list[int]) -> None:
        url = "stomp://127.0.0.1:{}/"
        async with (
            stompbox.connect(url.format(ports[0]), login="alice", passcode="x") as alice,
            alice.subscribe("/user/queue/notes") as notes,
            stompbox.connect(url.format(ports[1]), login="bob", passcode="x") as bob,
            bob.subscribe("/user/queue/users") as bob_users,
        ):
            # the registry has reached instance B once B's app counts alice
            for _ in range(50):
                await bob.send("/app/users", "", receipt=True)
                seen = json.loads((await bob_users.get(5)).body)
                if seen.get("alice"):
                    break
                await asyncio.sleep(0.1)
            assert seen == {"alice": 1, "bob": 1}
            # a handler on instance B (bob's) sends to alice, connected to instance A
            await bob.send("/app/notify/alice", "hello from B", receipt=True)
            message = await notes.get(10)
            assert message.text == "hello from B"
            assert message.headers["destination"] == "/user/queue/notes"
            # a client SEND to /user/alice/... on instance C reaches her too
            async with stompbox.connect(url.format(ports[2]), login="carol") as carol:
                await carol.send("/user/alice/queue/notes", "from C", receipt=True)
            assert (await notes.get(10)).text == "from C"
            # and nobody may read alice's private queue behind her back, from any instance
            async with stompbox.connect(url.format(ports[1]), login="mallory") as mallory:
                private = message.headers.get("original-destination")
                registry = "/topic/stompbox.user-registry"
                with pytest.raises(stompbox.BrokerErrorFrame, match="access denied"):
                    async with mallory.subscribe(registry):
                        pass
                assert private is None  # the private name is never shown

    with instances(3, relayed, "--app", APP, "--trust-login") as ports:
        run(main(ports))


def test_unresolved_user_messages_are_broadcast(relayed: str, tmp_path: Path) -> None:
    """Instances that never hear each other's registry (each publishes on a topic of its
    own here): a user message for a user unknown to the sender goes to every instance."""

    async def main(ports: list[int]) -> None:
        url = "stomp://127.0.0.1:{}/"
        async with (
            stompbox.connect(url.format(ports[0]), login="dora") as dora,
            dora.subscribe("/user/queue/notes") as notes,
            stompbox.connect(url.format(ports[1]), login="erin") as erin,
            erin.subscribe("/user/queue/users") as erin_users,
        ):
            await erin.send("/app/users", "", receipt=True)
            assert json.loads((await erin_users.get(5)).body) == {"erin": 1}  # no dora here
            await erin.send("/app/notify/dora", "right away", receipt=True)
            assert (await notes.get(10)).text == "right away"

    configs = []
    for index in range(2):
        config = tmp_path / f"instance{index}.toml"
        name = f"/topic/stompbox.registry-{uuid.uuid4().hex[:8]}"
        config.write_text(f'[relay]\nbrokers = "{relayed}"\nuser_registry = "{name}"\n')
        configs.append(config)
    with instances(2, relayed, "--app", APP, "--trust-login", configs=configs) as ports:
        run(main(ports))


def test_serve_app_takes_its_relay_from_the_config_file(relayed: str, tmp_path: Path) -> None:
    """``serve --app X --config FILE``, the relay named by the file's ``[relay]`` alone."""
    topic = f"/topic/from-file-{uuid.uuid4().hex[:8]}"
    config = f'[relay]\nbrokers = "{relayed}"\n'
    with ServeProcess(tmp_path, "--app", APP, config=config) as serve:
        client = RawClient(serve.port)
        assert (client.connect().get("server") or "").endswith("(relay)")
        client.send(f"SUBSCRIBE\nid:1\ndestination:{topic}\nreceipt:s\n\n\0".encode())
        assert client.next_frame(10).command == "RECEIPT"
        client.send(f"SEND\ndestination:{topic}\n\nthrough the broker\0".encode())
        message = client.next_frame(10)
        assert (message.command, message.body) == ("MESSAGE", b"through the broker")
