"""The real broker stopped and started again under a running relay (RabbitMQ's STOMP
listener; ActiveMQ's whole JVM), and relay connections that come and go in numbers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

import stompbox
from stompbox.app import StompApp, TestClient
from stompbox.broker import BrokerConfig
from stompbox.net import parse_url
from stompbox.relay import RelaySettings
from stompbox.server import ServerConfig

from ..server.helpers import stomp_client
from ..support import free_port, run, wait_for_port
from ..support import stompbox as stompbox_command
from .brokers import (
    broker_connection_count,
    restart_of,
)


def test_broker_restart_loses_no_acknowledged_persistent_message(relayed: str) -> None:
    """Publishers keep sending persistent messages with receipts while the broker stops
    and starts; every message the broker confirmed is consumed afterwards (some twice:
    at-least-once), and the app heard the broker go and come back."""
    stop, start, _ = restart_of(relayed)
    queue = f"/queue/restart-{uuid.uuid4().hex[:8]}"
    total = 120

    async def main() -> None:
        app = StompApp(relay=RelaySettings.from_url(relayed, reconnect_interval=0.5))
        events: list[bool] = []
        app.on("broker_available")(lambda e: events.append(e.available))
        app.on("broker_unavailable")(lambda e: events.append(e.available))
        confirmed: list[str] = []
        received: set[str] = set()

        async def publish(client: stompbox.Client) -> None:
            for i in range(total):
                body = f"m{i}"
                await client.send(queue, body, headers={"persistent": "true"}, receipt=True)
                confirmed.append(body)
                await asyncio.sleep(0.01)

        async with app.running(), TestClient(app) as publisher:
            assert app.relay is not None and await app.relay.system.wait_available(10)
            sending = asyncio.create_task(publish(publisher))
            while len(confirmed) < total // 3:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(stop)
            await asyncio.sleep(1.0)  # several reconnect attempts fail
            assert events[-1] is False
            await asyncio.to_thread(start)
            await asyncio.wait_for(sending, 60)  # every SEND got its receipt, in the end
            assert events[-1] is True
            async with (
                TestClient(app) as consumer,
                consumer.subscribe(queue, ack="client-individual") as sub,
            ):
                while not set(confirmed) <= received:
                    message = await sub.get(15)
                    received.add(message.text)
                    await message.ack()
        assert len(confirmed) == total
        assert events[:1] == [True] and False in events

    run(main(), timeout=180)


def test_relay_connections_do_not_leak(relayed: str, tmp_path: Path) -> None:
    """1,000 clients come and go (half disconnect, half drop their socket); the broker
    then sees the system session's connection alone."""
    broker_port = parse_url(relayed).port
    port = free_port()
    process = subprocess.Popen(
        stompbox_command("serve", "--port", str(port), "--ws-port", "0", "--relay", relayed),
        stderr=subprocess.DEVNULL,
    )

    async def client(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
        writer.write(f"SUBSCRIBE\nid:1\ndestination:/topic/leak-{i % 7}\n\n\0".encode())
        if i % 2:
            writer.write(b"DISCONNECT\nreceipt:bye\n\n\0")
            await writer.drain()
            await reader.read()  # CONNECTED, the broker's RECEIPT, then the end
        else:
            await reader.readuntil(b"\0")  # CONNECTED
            await asyncio.sleep(0.05)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def main() -> None:
        for wave in range(10):
            await asyncio.gather(*(client(wave * 100 + i) for i in range(100)))
        for _ in range(200):
            if broker_connection_count(broker_port, process.pid) == 1:
                break
            await asyncio.sleep(0.05)

    try:
        wait_for_port(port)
        run(main(), timeout=240)
        assert broker_connection_count(broker_port, process.pid) == 1  # the system session
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0


def test_rabbitmq_destination_kinds_pass_through(rabbitmq: str) -> None:
    """/exchange/..., /amq/queue/... and /temp-queue/ with reply-to, as RabbitMQ has them."""

    async def main() -> None:
        app = StompApp(relay=rabbitmq)
        key = uuid.uuid4().hex[:8]
        async with TestClient(app) as ann, TestClient(app) as bob:
            # an exchange with a routing key
            async with ann.subscribe(f"/exchange/amq.topic/prices.{key}.*") as prices:
                await bob.send(f"/exchange/amq.topic/prices.{key}.eur", "1.08", receipt=True)
                message = await prices.get(5)
                assert message.text == "1.08"
            # a queue declared elsewhere, read through /amq/queue
            name = f"jobs-{key}"
            await bob.send(f"/queue/{name}", "declared", receipt=True)
            async with ann.subscribe(f"/amq/queue/{name}") as jobs:
                assert (await jobs.get(5)).text == "declared"
        # request/reply through a temporary queue that RabbitMQ names and subscribes
        # itself (stomp.py hears MESSAGEs for subscriptions it never made)
        port = free_port()
        async with app.serve_tcp(port=port, ws_port=0):
            await asyncio.to_thread(_request_reply, port, f"/queue/service-{key}")

    run(main())


def _request_reply(port: int, service: str) -> None:
    server, server_listener = stomp_client(port)
    server.subscribe(service, id="s", receipt="s")
    assert server_listener.receipts.get(timeout=5) == "s"
    requester, requester_listener = stomp_client(port)
    requester.send(service, "ping", headers={"reply-to": "/temp-queue/replies"})
    request = server_listener.get()
    reply_to = request.headers["reply-to"]
    assert reply_to.startswith("/reply-queue/")  # rewritten by RabbitMQ, passed through
    server.send(reply_to, "pong")
    reply = requester_listener.get()
    assert reply.body == "pong"
    assert reply.headers["subscription"] == "/temp-queue/replies"
    server.disconnect()
    requester.disconnect()


def test_a_subscriber_that_reads_nothing_holds_bounded_memory(rabbitmq: str) -> None:
    """40 MiB published to a topic whose one subscriber (through the relay) never reads:
    stompbox stops reading that subscriber's relay connection, and the broker keeps the
    rest."""
    port = free_port()
    topic = f"/topic/unread-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        stompbox_command("serve", "--port", str(port), "--ws-port", "0", "--relay", rabbitmq),
        stderr=subprocess.DEVNULL,
    )

    def rss_kib() -> int:
        with open(f"/proc/{process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    async def main() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
        writer.write(f"SUBSCRIBE\nid:1\ndestination:{topic}\nreceipt:r\n\n\0".encode())
        await writer.drain()
        seen = b""
        while b"RECEIPT" not in seen:
            seen += await reader.read(4096)
        before = rss_kib()
        body = b"x" * (100 * 1024)
        async with stompbox.connect(rabbitmq) as publisher:
            for _ in range(400):
                await publisher.send(topic, body)
            await publisher.send(topic, b"", receipt=True)
        await asyncio.sleep(1.0)
        grown = rss_kib() - before
        writer.close()
        return grown

    try:
        wait_for_port(port)
        grown = run(main(), timeout=120)
        assert grown < 24 * 1024, f"stompbox grew by {grown} KiB"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0


def test_activemq_temporary_queues_pass_through(activemq: str) -> None:
    """ActiveMQ's request/reply: the requester subscribes to its /temp-queue/, the broker
    rewrites reply-to, and the reply comes back through two relay connections."""

    async def main() -> None:
        app = StompApp(relay=activemq)
        service = f"/queue/service-{uuid.uuid4().hex[:8]}"
        async with (
            TestClient(app) as requester,
            TestClient(app) as responder,
            responder.subscribe(service) as requests,
            requester.subscribe("/temp-queue/replies") as replies,
        ):
            for n in range(4):  # each reply reaches the client's own subscription
                await requester.send(
                    service, f"ping {n}", headers={"reply-to": "/temp-queue/replies"}
                )
                request = await requests.get(5)
                reply_to = request.headers["reply-to"]
                assert reply_to.startswith("/remote-temp-queue/")  # ActiveMQ's, passed through
                await responder.send(reply_to, f"pong {n}", receipt=True)
                assert (await replies.get(5)).text == f"pong {n}"

    run(main())


def test_client_request_through_the_relay(relayed: str) -> None:
    """``client.request`` names ``reply-to:/temp-queue/...`` and subscribes to nothing:
    RabbitMQ subscribes its connection by itself; for ActiveMQ, which does not, the relay
    does it."""

    async def main() -> None:
        app = StompApp(relay=relayed)
        service = f"/queue/service-{uuid.uuid4().hex[:8]}"
        async with (
            TestClient(app) as requester,
            TestClient(app) as responder,
            responder.subscribe(service) as requests,
        ):

            async def answer() -> None:
                while True:
                    message = await requests.get(10)
                    await responder.send(
                        message.headers["reply-to"],
                        message.text.upper(),
                        headers={"correlation-id": message.headers["correlation-id"]},
                    )

            answering = asyncio.create_task(answer())
            try:
                for word in ("ping", "pong", "again"):
                    reply = await requester.request(service, word, timeout=10)
                    assert reply.text == word.upper()
            finally:
                answering.cancel()

    run(main())


def test_an_app_handler_answers_client_request_through_the_relay(relayed: str) -> None:
    """A request to an ``/app`` handler never reaches the relayed broker, so neither does
    its ``reply-to:/temp-queue/...``: the handler's answer goes straight to the sender."""

    async def main() -> None:
        app = StompApp(relay=relayed)

        @app.message("/upper")
        def upper(payload: str) -> str:
            return payload.upper()

        async with TestClient(app) as requester:
            for word in ("ping", "pong"):
                reply = await requester.request("/app/upper", word, timeout=10)
                assert reply.text == word.upper()
                assert reply.headers["destination"] == "/temp-queue/client-replies"

    run(main())


def test_the_temporary_queues_a_client_names_are_bounded(relayed: str) -> None:
    """Each /temp-queue/ a client names in reply-to is a queue on the broker: one more
    than max_temp_queues_per_session is refused, as the embedded broker refuses it."""

    async def main() -> None:
        app = StompApp(relay=relayed)
        service = f"/queue/service-{uuid.uuid4().hex[:8]}"
        async with TestClient(app) as client:
            for n in range(BrokerConfig().max_temp_queues_per_session):
                await client.send(service, "x", headers={"reply-to": f"/temp-queue/r{n}"})
            await client.send(service, "x", headers={"reply-to": "/temp-queue/r0"}, receipt=True)
            with pytest.raises(stompbox.BrokerErrorFrame, match="limit of 100 exceeded"):
                await client.send(
                    service, "x", headers={"reply-to": "/temp-queue/one-more"}, receipt=True
                )

    run(main())


def test_subscriptions_and_transactions_through_the_relay_are_bounded(relayed: str) -> None:
    """Each is held by the broker for the client (a RabbitMQ topic subscription is a
    queue): the embedded broker's max_subscriptions, max_transactions and
    max_transaction_frames bound them."""
    limits = BrokerConfig(max_subscriptions=3, max_transactions=1, max_transaction_frames=3)

    async def main() -> None:
        app = StompApp(relay=relayed, config=ServerConfig(broker=limits))
        topic = f"/topic/bounded-{uuid.uuid4().hex[:8]}"
        async with TestClient(app) as client, contextlib.AsyncExitStack() as subscriptions:
            for n in range(3):
                await subscriptions.enter_async_context(client.subscribe(f"{topic}.{n}"))
            with pytest.raises(stompbox.BrokerErrorFrame, match="max_subscriptions limit of 3"):
                async with client.subscribe(f"{topic}.3"):
                    await client.send(topic, "x", receipt=True)
        with pytest.raises(stompbox.BrokerErrorFrame, match="max_transactions limit of 1"):
            async with TestClient(app) as client, client.transaction() as first:
                await first.send(topic, "in the first")
                async with client.transaction():
                    await client.send(topic, "x", receipt=True)
        with pytest.raises(stompbox.BrokerErrorFrame, match="max_transaction_frames limit of 3"):
            async with TestClient(app) as client, client.transaction() as tx:
                for n in range(4):
                    await tx.send(topic, f"held {n}")
                await client.send(topic, "x", receipt=True)

    run(main())
