"""The stompbox client and stomp.py against a real Apache ActiveMQ (scripts/activemq.sh)."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
import stomp

import stompbox

from ..support import run
from .brokers import (
    ACTIVEMQ_STOMP_PORT,
    broker_connection_count,
    start_activemq,
    stop_activemq,
)

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


def test_topic_fan_out(activemq: str) -> None:
    topic = unique("/topic/")

    async def main() -> None:
        async with (
            stompbox.connect(activemq) as a,
            stompbox.connect(activemq) as b,
            a.subscribe(topic) as sa,
            b.subscribe(topic) as sb,
        ):
            await a.send(topic, "news", receipt=True)
            assert (await sa.get(5)).text == "news"
            assert (await sb.get(5)).text == "news"

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


def test_stop_and_start_activemq(activemq: str) -> None:
    """The helpers really take the broker away and bring it back: a client connected
    before loses its connection, and with reconnect=True comes back and re-subscribes.
    One stop and one start, about 4 s; the broker is left running."""
    queue = unique("/queue/")
    me = os.getpid()

    async def main() -> None:
        client = stompbox.connect(activemq, reconnect=True, backoff=(0.1, 0.5))
        async with client, client.subscribe(queue) as sub:
            assert broker_connection_count(ACTIVEMQ_STOMP_PORT, me) == 1
            try:
                await asyncio.to_thread(stop_activemq)
                assert broker_connection_count(ACTIVEMQ_STOMP_PORT) == 0
            finally:
                await asyncio.to_thread(start_activemq)
            await client.send(queue, "after the restart", receipt=True)  # waits to reconnect
            assert (await sub.get(5)).text == "after the restart"
            assert broker_connection_count(ACTIVEMQ_STOMP_PORT, me) == 1

    run(main(), timeout=60)
