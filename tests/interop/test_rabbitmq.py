"""The stompbox client and CLI against a real RabbitMQ with the STOMP plugins."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest

import stompbox

from ..support import run
from .conftest import RABBITMQ_WS_URL

pytestmark = pytest.mark.rabbitmq


def unique(prefix: str) -> str:
    return f"{prefix}stompbox-test-{uuid.uuid4().hex[:8]}"


def test_queue_round_trip_and_headers(rabbitmq: str) -> None:
    queue = unique("/queue/")

    async def main() -> None:
        async with stompbox.connect(rabbitmq) as client:
            assert client.version == "1.2"
            assert client.server and client.server.startswith("RabbitMQ")
            async with client.subscribe(queue) as sub:
                await client.send(queue, {"order": 1}, headers={"x-trace": "t1"}, receipt=True)
                message = await sub.get(5)
                assert message.json() == {"order": 1}
                assert message.headers["x-trace"] == "t1"
                assert message.headers["content-type"] == "application/json"

    run(main())


def test_nack_redelivers_and_ack_settles(rabbitmq: str) -> None:
    queue = unique("/queue/")

    async def main() -> None:
        async with (
            stompbox.connect(rabbitmq) as client,
            client.subscribe(queue, ack="client-individual") as sub,
        ):
            await client.send(queue, "job", receipt=True)
            first = await sub.get(5)
            await first.nack()
            again = await sub.get(5)
            assert again.text == "job"
            assert again.redelivered
            await again.ack()
            with pytest.raises(TimeoutError):
                await sub.get(0.5)

    run(main())


def test_transaction(rabbitmq: str) -> None:
    queue = unique("/queue/")

    async def main() -> None:
        async with stompbox.connect(rabbitmq) as client, client.subscribe(queue) as sub:
            async with client.transaction() as tx:
                await tx.send(queue, "in tx")
                with pytest.raises(TimeoutError):
                    await sub.get(0.3)
            assert (await sub.get(5)).text == "in tx"

    run(main())


def test_broker_error_is_raised(rabbitmq: str) -> None:
    async def main() -> None:
        async with stompbox.connect(rabbitmq) as client:
            with pytest.raises(stompbox.BrokerErrorFrame) as info:
                await client.send("/bogus/place", "x", receipt=True)
            assert info.value.message

    run(main())


def test_wrong_vhost_fails_to_connect(rabbitmq: str) -> None:
    async def main() -> None:
        with pytest.raises(stompbox.ConnectFailed, match="refused"):
            await stompbox.connect(rabbitmq + "no-such-vhost").open()

    run(main())


def test_heartbeats_are_negotiated(rabbitmq: str) -> None:
    async def main() -> None:
        async with stompbox.connect(rabbitmq, heartbeat=(500, 500)) as client:
            await asyncio.sleep(1.5)
            queue = unique("/queue/")
            async with client.subscribe(queue) as sub:
                await client.send(queue, "still here", receipt=True)
                assert (await sub.get(5)).text == "still here"

    run(main())


def test_websocket_web_stomp(rabbitmq: str) -> None:
    topic = unique("/topic/")

    async def main() -> None:
        async with stompbox.connect(RABBITMQ_WS_URL) as client:
            assert client.server and client.server.startswith("RabbitMQ")
            async with client.subscribe(topic) as sub:
                await client.send(topic, "über websocket", receipt=True)
                assert (await sub.get(5)).text == "über websocket"

    run(main())


def test_cli_against_rabbitmq(rabbitmq: str) -> None:
    queue = unique("/queue/")
    cli = [sys.executable, "-m", "stompbox.cli"]
    subprocess.run(
        [*cli, "send", queue, "-", "--lines", "--receipt", "--url", rabbitmq],
        input=b"a\nb\n",
        check=True,
        timeout=30,
    )
    out = subprocess.run(
        [*cli, "subscribe", queue, "--count", "2", "--url", rabbitmq],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert out == "a\nb\n"


def test_cli_subscribe_count_on_rabbitmq_takes_at_most_one_more(rabbitmq: str) -> None:
    """RabbitMQ refuses an ACK after UNSUBSCRIBE, so there the CLI takes one message at a
    time, and the ACK of the last one may be refilled with one more (redelivered later)."""
    queue = unique("/queue/")
    cli = [sys.executable, "-m", "stompbox.cli"]
    for number in range(5):
        subprocess.run([*cli, "send", queue, f"m{number}", "--url", rabbitmq], check=True)
    first = subprocess.run(
        [*cli, "subscribe", queue, "--count", "2", "--url", rabbitmq],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (first.returncode, first.stdout) == (0, "m0\nm1\n"), first.stderr
    rest = subprocess.run(
        [*cli, "subscribe", queue, "--count", "3", "--url", rabbitmq],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (rest.returncode, rest.stdout) == (0, "m2\nm3\nm4\n"), rest.stderr


def test_client_request_over_rabbitmqs_temporary_reply_queue(rabbitmq: str) -> None:
    """``client.request`` against RabbitMQ itself: its ``/temp-queue/`` reply-to is
    rewritten by RabbitMQ, which subscribes the requester implicitly, as stompbox does."""
    queue = unique("/queue/")

    async def main() -> None:
        async with (
            stompbox.connect(rabbitmq) as responder,
            stompbox.connect(rabbitmq) as requester,
            responder.subscribe(queue) as requests,
        ):

            async def answer() -> str:
                message = await requests.get(10)
                reply_to = message.headers["reply-to"]
                correlation = message.headers.get("correlation-id", "")
                await responder.send(
                    reply_to, message.text.upper(), headers={"correlation-id": correlation}
                )
                return reply_to

            answering = asyncio.create_task(answer())
            reply = await requester.request(queue, "ping", timeout=10)
            reply_to = await answering
            assert reply.text == "PING"
            assert not reply_to.startswith("/temp-queue/")  # RabbitMQ's own name for it

    run(main())
