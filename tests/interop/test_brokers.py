"""The helpers that take RabbitMQ's STOMP listener away and bring it back (brokers.py);
ActiveMQ's are exercised in test_activemq.py."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

import stompbox

from ..support import run
from .brokers import (
    RABBITMQ_STOMP_PORT,
    broker_connection_count,
    start_rabbitmq_stomp,
    stop_rabbitmq_stomp,
)

pytestmark = pytest.mark.rabbitmq


def test_stop_and_start_rabbitmq_stomp(rabbitmq: str) -> None:
    """Stopping the plugin closes the STOMP connections and refuses new ones; after the
    start, a client with reconnect=True is back and re-subscribed. About 2 s."""
    queue = f"/queue/stompbox-test-{uuid.uuid4().hex[:8]}"
    me = os.getpid()

    async def main() -> None:
        client = stompbox.connect(rabbitmq, reconnect=True, backoff=(0.1, 0.5))
        async with client, client.subscribe(queue) as sub:
            assert broker_connection_count(RABBITMQ_STOMP_PORT, me) == 1
            try:
                await asyncio.to_thread(stop_rabbitmq_stomp)
                assert broker_connection_count(RABBITMQ_STOMP_PORT) == 0
                with pytest.raises(stompbox.ConnectFailed):
                    await stompbox.connect(rabbitmq).open()
            finally:
                await asyncio.to_thread(start_rabbitmq_stomp)
            await client.send(queue, "after the restart", receipt=True)  # waits to reconnect
            assert (await sub.get(5)).text == "after the restart"
            assert broker_connection_count(RABBITMQ_STOMP_PORT, me) == 1

    run(main(), timeout=60)
