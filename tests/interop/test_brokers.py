"""The helpers that take each real broker away and bring it back (brokers.py), and what
both brokers do alike for a stompbox client."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

import stompbox

from ..support import run
from .brokers import broker_connection_count, restart_of


def unique(prefix: str) -> str:
    return f"{prefix}stompbox-test-{uuid.uuid4().hex[:8]}"


def test_topic_fan_out(relayed: str) -> None:
    topic = unique("/topic/")

    async def main() -> None:
        async with (
            stompbox.connect(relayed) as a,
            stompbox.connect(relayed) as b,
            a.subscribe(topic) as sa,
            b.subscribe(topic) as sb,
        ):
            await a.send(topic, "news", receipt=True)
            assert (await sa.get(5)).text == "news"
            assert (await sb.get(5)).text == "news"

    run(main())


def test_stop_and_start(relayed: str) -> None:
    """The helpers really take the broker away (RabbitMQ's STOMP listener, ActiveMQ's
    JVM): its STOMP connections close and new ones are refused; after the start, a client
    with reconnect=True is back and re-subscribed. A few seconds; the broker is left
    running."""
    stop, start, port = restart_of(relayed)
    queue = unique("/queue/")
    me = os.getpid()

    async def main() -> None:
        client = stompbox.connect(relayed, reconnect=True, backoff=(0.1, 0.5))
        async with client, client.subscribe(queue) as sub:
            assert broker_connection_count(port, me) == 1
            try:
                await asyncio.to_thread(stop)
                assert broker_connection_count(port) == 0
                with pytest.raises(stompbox.ConnectFailed):
                    await stompbox.connect(relayed).open()
            finally:
                await asyncio.to_thread(start)
            await client.send(queue, "after the restart", receipt=True)  # waits to reconnect
            assert (await sub.get(5)).text == "after the restart"
            assert broker_connection_count(port, me) == 1

    run(main(), timeout=60)
