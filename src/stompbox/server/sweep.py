"""The periodic sweep that takes expired messages out of queues nobody consumes.

An expired message is never delivered (the broker checks deadlines where it would hand a
message over); this sweep only stops a queue without consumers from holding expired
messages, and their memory, until someone comes (docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import logging

from stompbox.broker import Broker

__all__ = ["sweep_expired"]

log = logging.getLogger("stompbox.server")


async def sweep_expired(broker: Broker, interval: float = 1.0) -> None:
    """Every ``interval`` seconds, :meth:`Broker.sweep_expired` (bounded work per sweep)."""
    while True:
        await asyncio.sleep(interval)
        count = broker.sweep_expired()
        if count:
            log.debug("%d expired message(s) taken out of queues", count)
