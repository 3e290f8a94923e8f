"""The stompbox client and stomp.py against a real Apache ActiveMQ (scripts/activemq.sh)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import stomp

import stompbox

from ..support import run
from .brokers import ACTIVEMQ_STOMP_PORT

pytestmark = pytest.mark.activemq


def unique(prefix: str) -> str:
    return f"{prefix}stompbox-test-{uuid.uuid4().hex[:8]}"


def test_queue_round_trip_and_headers(activemq: str) -> None:
    queue = unique("/queue/")

    async def main() -> None:
        async with stompbox.connect(activemq) as client:
            assert client.version == "1.2"
            assert client.server and client.server.startswith("ActiveMQ/")
            async with client.subscribe(queue) as sub:
                await client.send(queue, {"order": 1}, headers={"x-trace": "a:b"}, receipt=True)
                message = await sub.get(5)
                assert message.json() == {"order": 1}
                assert message.headers["x-trace"] == "a:b"  # escaped and back, STOMP 1.2
                assert message.headers["content-type"] == "application/json"
                assert message.headers["destination"] == queue
                # what ActiveMQ adds of its own
                assert message.headers["priority"] == "4"
                assert message.headers["expires"] == "0"
                assert message.headers["message-id"].startswith("ID:")

    run(main())


def test_stomp_py_request_and_reply_through_a_temp_queue(activemq: str) -> None:
    """stomp.py asks on a queue with reply-to /temp-queue/...; the stompbox client answers
    to the reply-to it got, which ActiveMQ has rewritten to /remote-temp-queue/ID:..."""
    queue = unique("/queue/")
    replies: list[Any] = []

    class Replies(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            replies.append(frame)

    def ask() -> Any:
        conn = stomp.Connection12([("127.0.0.1", ACTIVEMQ_STOMP_PORT)])
        conn.set_listener("", Replies())
        conn.connect("guest", "guest", wait=True)
        conn.subscribe("/temp-queue/replies", id="r")
        conn.send(queue, "ping", headers={"reply-to": "/temp-queue/replies"})
        return conn

    async def main() -> None:
        async with stompbox.connect(activemq) as client, client.subscribe(queue) as sub:
            conn = await asyncio.to_thread(ask)
            try:
                request = await sub.get(5)
                assert request.text == "ping"
                reply_to = request.headers["reply-to"]
                assert reply_to.startswith("/remote-temp-queue/ID:")
                await client.send(reply_to, "pong", receipt=True)
                for _ in range(100):
                    if replies:
                        break
                    await asyncio.sleep(0.05)
                assert replies[0].body == "pong"
                assert replies[0].headers["destination"] == "/temp-queue/replies"
            finally:
                await asyncio.to_thread(conn.disconnect)

    run(main())
