"""The broker's counters, which an operator reads (``stompbox status``, the metrics page)
and tests assert on."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BrokerStats"]


@dataclass(slots=True)
class BrokerStats:
    """Counters an operator can read (and that tests assert on)."""

    published: int = 0
    delivered: int = 0
    redelivered: int = 0
    dead_lettered: int = 0
    dropped_slow_consumer: int = 0
    expired: int = 0
    dropped_nacked_topic: int = 0
    producers_paused: int = 0
    disconnected_slow_consumer: int = 0
    """Subscribers disconnected by the ``disconnect`` slow-consumer policy."""
    acked: int = 0
    """ACK frames carried out (a ``client`` mode ACK may settle several messages)."""
    nacked: int = 0
    dropped_temporary: int = 0
    """Messages left in temporary queues when their sessions closed."""
    dropped_durable: int = 0
    """Topic messages a durable subscription's full queue (or the spent memory budget)
    could not take: the newest is dropped, the publisher is not refused."""
