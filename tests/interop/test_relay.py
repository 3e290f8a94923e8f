"""Scale-out: two stompbox applications relaying broker destinations to one RabbitMQ."""

from __future__ import annotations

import asyncio
import subprocess
import uuid

import pytest

import stompbox
from stompbox.app import StompApp, TestClient, send_to
from stompbox.relay import RelaySettings

from ..support import run
from .brokers import restart_of

pytestmark = pytest.mark.rabbitmq


def instance(rabbitmq: str) -> StompApp:
    app = StompApp(relay=rabbitmq)

    @app.message("/shout")
    @send_to("/topic/shouts")
    def shout(payload: str) -> str:
        return payload.upper()

    return app


def test_two_instances_share_destinations_through_rabbitmq(rabbitmq: str) -> None:
    first, second = instance(rabbitmq), instance(rabbitmq)
    topic = f"/topic/relay-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        async with (
            TestClient(first, login="ann") as ann,
            TestClient(second, login="bob") as bob,
            ann.subscribe(topic) as on_first,
            ann.subscribe("/topic/shouts") as shouts,
        ):
            # a client of the second instance reaches a subscriber of the first
            await bob.send(topic, "across processes", receipt=True)
            message = await on_first.get(5)
            assert message.text == "across processes"
            assert message.headers["destination"] == topic
            # a handler's reply on the second instance, through the template and RabbitMQ
            await bob.send("/app/shout", "hello", receipt=True)
            assert (await shouts.get(5)).text == "HELLO"
            # and the embedded brokers saw none of it
            assert first.broker.stats.published == second.broker.stats.published == 0

    run(main())


def test_acks_and_nacks_are_the_relayed_brokers(rabbitmq: str) -> None:
    app = instance(rabbitmq)
    queue = f"/queue/relay-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        async with (
            TestClient(app) as client,
            client.subscribe(queue, ack="client-individual") as sub,
        ):
            await client.send(queue, "job", receipt=True)
            first = await sub.get(5)
            await first.nack()
            again = await sub.get(5)
            assert again.text == "job" and again.redelivered
            await again.ack()
            with pytest.raises(TimeoutError):
                await sub.get(0.3)

    run(main())


def test_broker_errors_reach_the_client(rabbitmq: str) -> None:
    app = instance(rabbitmq)

    async def main() -> None:
        async with TestClient(app) as client:
            with pytest.raises(stompbox.BrokerErrorFrame):
                await client.send("/bogus/place", "x", receipt=True)

    run(main())


def test_a_broker_never_reached_refuses_sends_in_error_mode() -> None:
    settings = RelaySettings.from_url(
        "stomp://guest:guest@127.0.0.1:1/", outage="error", reconnect_interval=0.2
    )
    app = StompApp(relay=settings)

    async def main() -> None:
        async with TestClient(app) as client:
            assert app.relay is not None
            while not app.relay.system.away:  # the first attempt failed
                await asyncio.sleep(0.02)
            with pytest.raises(stompbox.BrokerErrorFrame, match=r"127\.0\.0\.1:1"):
                await client.send("/topic/x", "nowhere", receipt=True)

    run(main())


def test_two_serve_processes_relaying_to_rabbitmq(rabbitmq: str) -> None:
    import signal
    import subprocess

    from ..server.helpers import stomp_client
    from ..support import free_port, stompbox, wait_for_port

    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            stompbox("serve", "--port", str(port), "--ws-port", "0", "--relay", rabbitmq),
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for port in ports:
            wait_for_port(port)
        topic = f"/topic/scale-{uuid.uuid4().hex[:8]}"
        subscriber, listener = stomp_client(ports[0])
        subscriber.subscribe(topic, id="1", receipt="ready")
        assert listener.receipts.get(timeout=5) == "ready"
        publisher, _ = stomp_client(ports[1])
        publisher.send(topic, "from the other process")
        assert listener.get().body == "from the other process"
        subscriber.disconnect()
        publisher.disconnect()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0


def private_queues(key: str) -> dict[str, int]:
    """RabbitMQ's queues of sessions' ``/user/queue/inbox-<key>``: name -> messages held."""
    out = subprocess.run(
        ["rabbitmqctl", "list_queues", "name", "messages", "-q"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split() for line in out.splitlines())
    return {
        row[0]: int(row[1])
        for row in rows
        if len(row) == 2 and row[0].startswith("stompbox.u.") and row[0].endswith(f".inbox-{key}")
    }


def test_private_user_queues_go_after_their_session_on_rabbitmq(rabbitmq: str) -> None:
    """A session's /user/queue/... is a queue on RabbitMQ, deleted once unused for
    private_queue_expires (its x-expires), not left for ever."""
    key = uuid.uuid4().hex[:8]
    settings = RelaySettings.from_url(rabbitmq, private_queue_expires=1.0)
    app = StompApp(relay=settings, trust_login=True)

    async def main() -> None:
        async with (
            TestClient(app, login="ann") as ann,
            ann.subscribe(f"/user/queue/inbox-{key}") as inbox,
        ):
            await app.send_to_user("ann", f"/queue/inbox-{key}", "hello")
            message = await inbox.get(5)
            assert message.text == "hello"
            assert message.headers["destination"] == f"/user/queue/inbox-{key}"
            for shown in ("auto-delete", "durable", "x-expires"):  # how it was declared
                assert shown not in message.headers
            assert len(private_queues(key)) == 1
        for _ in range(100):  # RabbitMQ checks expiry on a timer of its own
            if not private_queues(key):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"still there 10 s after its session ended: {private_queues(key)}")

    run(main())


def test_a_private_queue_keeps_its_messages_while_the_broker_connection_is_away(
    rabbitmq: str,
) -> None:
    """The session's broker connection drops (RabbitMQ's STOMP plugin stops) with one
    message delivered and unacknowledged and two waiting: after the relay reconnects, all
    three arrive. (An auto-deleted queue went with its connection, and the three with it.)"""
    key = uuid.uuid4().hex[:8]
    settings = RelaySettings.from_url(rabbitmq, reconnect_interval=0.5)
    app = StompApp(relay=settings, trust_login=True)

    async def main() -> None:
        async with (
            app.running(),
            TestClient(app, login="ann") as ann,
            ann.subscribe(
                f"/user/queue/inbox-{key}",
                ack="client-individual",
                headers={"prefetch-count": "1"},
            ) as inbox,
        ):
            assert app.relay is not None and await app.relay.system.wait_available(10)
            for body in ("m1", "m2", "m3"):
                await app.send_to_user("ann", f"/queue/inbox-{key}", body)
            assert (await inbox.get(5)).text == "m1"  # not acked: m2 and m3 wait for it
            for _ in range(50):
                if list(private_queues(key).values()) == [3]:
                    break
                await asyncio.sleep(0.1)
            assert list(private_queues(key).values()) == [3]
            stop, start, _ = restart_of(rabbitmq)
            await asyncio.to_thread(stop)  # every STOMP connection closes; the node stays
            await asyncio.to_thread(start)
            got: list[str] = []
            while set(got) != {"m1", "m2", "m3"}:
                message = await inbox.get(20)
                got.append(message.text)
                await message.ack()
            assert got[0] == "m1"  # delivered again first: it was never acknowledged

    run(main(), timeout=60)


def test_a_burst_right_after_connect_waits_for_the_relay_instead_of_failing(
    rabbitmq: str,
) -> None:
    """More than outage_buffer sent before the client's own relay connection is up: the
    client is read more slowly, never refused (the broker is there, only connecting)."""
    app = StompApp(relay=RelaySettings.from_url(rabbitmq, outage_buffer=20_000))
    queue = f"/queue/burst-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        async with TestClient(app) as client:
            assert app.relay is not None
            relay = app.relay.client(next(iter(app.registry.sessions)))
            assert relay is not None
            assert not relay.connected  # CONNECTED was answered; the relay's is not up yet
            for i in range(400):
                await client.send(queue, f"{i:04d}" + "x" * 200)
            await client.send(queue, "last", receipt=True)
            async with client.subscribe(queue) as sub:
                bodies = [(await sub.get(10)).text for _ in range(401)]
                assert bodies[-1] == "last"
                assert [b[:4] for b in bodies[:-1]] == [f"{i:04d}" for i in range(400)]

    run(main())


def test_no_wildcard_or_alias_reaches_another_users_private_destinations(relayed: str) -> None:
    """What a broker's wildcards and RabbitMQ's aliases would let a client do through a
    relay (read another user's /user/... messages, the instances' registry) is refused,
    and what is allowed hears nothing of them."""
    key = uuid.uuid4().hex[:8]
    app = StompApp(relay=relayed, trust_login=True)
    rabbit = "61623" in relayed
    refused = ["/topic/#", "/topic/*", f"/topic/*.{key}", "/queue/>", "/topic/stompbox.#"]
    if rabbit:
        refused += ["/exchange/amq.topic/#", "/exchange/amq.topic/stompbox.user-registry"]

    async def main() -> None:
        async with (
            TestClient(app, login="alice") as alice,
            alice.subscribe(f"/user/topic/news{key}") as news,
            alice.subscribe(f"/user/queue/inbox{key}") as inbox,
        ):
            for destination in refused:
                async with TestClient(app, login="mallory") as mallory:
                    with pytest.raises(stompbox.BrokerErrorFrame, match="access denied"):
                        async with mallory.subscribe(destination):
                            pass
            async with (
                TestClient(app, login="mallory") as mallory,
                mallory.subscribe(f"/topic/news{key}.*") as near,
                mallory.subscribe(f"/queue/inbox{key}") as same_name,
            ):
                await app.send_to_user("alice", f"/topic/news{key}", "for alice")
                await app.send_to_user("alice", f"/queue/inbox{key}", "for alice")
                assert (await news.get(5)).text == "for alice"
                assert (await inbox.get(5)).text == "for alice"
                for sub in (near, same_name):
                    with pytest.raises(TimeoutError):
                        await sub.get(0.3)

    run(main())


def test_what_a_client_sends_and_leaves_at_once_reaches_the_broker(relayed: str) -> None:
    """``stompbox send`` through a relaying ``serve``: its SEND and DISCONNECT arrive
    before the client's own broker connection is up, and the client goes at once. The
    SEND waits for that connection (it was lost before), with or without a receipt; and
    ``subscribe --count`` then takes what it prints (one at a time, by the broker's rules:
    CONNECTED says ``(relay)``)."""
    import subprocess

    from ..support import free_port, wait_for_port
    from ..support import stompbox as command

    port = free_port()
    url = f"stomp://127.0.0.1:{port}/"
    process = subprocess.Popen(
        command(
            "serve", "--port", str(port), "--ws-port", "0", "--http-port", "0", "--relay", relayed
        ),
        stderr=subprocess.DEVNULL,
    )
    queue = f"/queue/leave-{uuid.uuid4().hex[:8]}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command(*args, "--url", url), capture_output=True, text=True, timeout=30
        )

    try:
        wait_for_port(port)
        for number in range(3):
            assert cli("send", queue, f"m{number}").returncode == 0
        assert cli("send", queue, "m3", "--receipt").returncode == 0
        first = cli("subscribe", queue, "--count", "2")
        assert (first.returncode, first.stdout) == (0, "m0\nm1\n"), first.stderr
    finally:
        process.terminate()
        process.wait(10)

    async def rest() -> list[str]:
        async with stompbox.connect(relayed) as client, client.subscribe(queue) as sub:
            bodies = [(await sub.get(5)).text for _ in range(2)]
            with pytest.raises(TimeoutError):
                await sub.get(0.5)
            return bodies

    assert run(rest()) == ["m2", "m3"]


def test_an_operators_forced_close_is_an_outage_not_the_clients_fault(rabbitmq: str) -> None:
    """``rabbitmqctl close_all_connections`` sends each connection an ERROR (AMQP's 320
    CONNECTION_FORCED) before closing it: the relay takes it as an outage and reconnects,
    and the client stays connected to stompbox, subscribed, told it went and came back."""
    topic = f"/topic/forced-{uuid.uuid4().hex[:8]}"
    app = StompApp(relay=RelaySettings.from_url(rabbitmq, reconnect_interval=0.5))

    async def main() -> None:
        async with (
            app.running(),
            TestClient(app) as client,
            client.subscribe(topic) as messages,
            client.subscribe("/user/queue/errors") as notices,
        ):
            assert app.relay is not None and await app.relay.system.wait_available(10)
            await client.send(topic, "before", receipt=True)
            assert (await messages.get(5)).text == "before"
            await asyncio.to_thread(
                subprocess.run,
                ["rabbitmqctl", "close_all_connections", "--vhost", "/", "maintenance"],
                capture_output=True,
                check=True,
            )
            assert (await notices.get(10)).headers["message"] == "broker unavailable"
            assert (await notices.get(20)).headers["message"] == "broker available"
            await client.send(topic, "after", receipt=True)
            assert (await messages.get(10)).text == "after"

    run(main(), timeout=60)
