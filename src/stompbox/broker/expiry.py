"""Message expiry and priority: what a SEND's headers and the queue's TTL ask for.

A message's deadline is absolute (ms since the epoch), fixed when it is published: the
earliest of ActiveMQ's ``expires`` (absolute ms; 0 means never, as JMS), RabbitMQ's
``expiration`` (ms from now; 0 means "now or never") and its queue's ``queue_ttl``. The
broker checks it where a message would be delivered and sweeps queues now and then;
messages without one pay a single attribute check. See docs/delivery.md.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Final

from stompbox.protocol.frames import Headers

from .errors import BrokerError
from .message import Message
from .priority import DEFAULT_PRIORITY, PriorityBacklog
from .queues import QueueDestination

__all__ = [
    "DEFAULT_PRIORITY",
    "DELIVERY_HEADERS",
    "check_headers",
    "priority_of",
    "queue_ttl",
    "stamp",
    "take_expired",
]

DELIVERY_HEADERS: Final = frozenset({"expires", "expiration", "priority"})
"""The SEND headers read here; like any sender's header, they are passed on to receivers."""

_MAX_DIGITS = 15
"""Enough for any date in ms until the year 33658; longer is refused, not parsed."""


def _milliseconds(name: str, value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS):
        raise BrokerError(
            f"invalid {name} header",
            f"{name} must be a whole number of milliseconds (0 or more, at most "
            f"{_MAX_DIGITS} digits), not {value!r}",
        )
    return int(value)


def _priority(value: str) -> int:
    """0-9; 10-255 (AMQP's range, which RabbitMQ takes) count as 9, the highest level,
    as RabbitMQ counts a priority above a queue's ``x-max-priority``."""
    if len(value) == 1 and "0" <= value <= "9":
        return ord(value) - 48
    if value.isascii() and value.isdigit() and len(value) <= 3 and int(value) <= 255:
        return 9
    raise BrokerError(
        "invalid priority header",
        f"priority must be an integer from 0 to 9 (9 the highest; 10 to 255 count as 9), "
        f"not {value!r}",
    )


def stamp(message: Message, ttl: int | None, now: float) -> None:
    """Set ``message``'s deadline and priority from its headers (the first of each name
    counts) and its queue's ``ttl`` (ms); ``now`` is ms since the epoch.

    Raises :class:`BrokerError` naming the header whose value is not allowed.
    """
    deadline = now + ttl if ttl is not None else math.inf
    seen = 0  # a bit per name: the first of each counts
    for name, value in message.headers:
        if name not in DELIVERY_HEADERS:
            continue
        if name == "priority":
            if not seen & 1:
                seen |= 1
                message.priority = _priority(value)
        elif name == "expires":
            if not seen & 2:
                seen |= 2
                at = _milliseconds(name, value)
                if at and at < deadline:  # ActiveMQ (JMS): 0 is "never expires"
                    deadline = at
        elif not seen & 4:
            seen |= 4
            until = now + _milliseconds(name, value)
            if until < deadline:
                deadline = until
    if deadline != math.inf:
        message.deadline = deadline


def priority_of(headers: Headers) -> int:
    """The priority a stored message was sent with (checked then); the default if none."""
    for name, value in headers:
        if name == "priority":
            try:
                return _priority(value)
            except BrokerError:
                break
    return DEFAULT_PRIORITY


def check_headers(headers: Headers) -> None:
    """Refuse bad delivery headers now (a SEND held in a transaction), not at COMMIT."""
    probe = Message("", "", headers, b"")
    stamp(probe, None, 0.0)


def queue_ttl(rules: Mapping[str, int], name: str) -> int | None:
    """The ``queue_ttl`` of queue ``name``: its own entry, else the longest ``prefix*``
    entry it begins with, else None."""
    ttl = rules.get(name)
    if ttl is not None:
        return ttl
    best = -1
    for pattern, value in rules.items():
        if pattern.endswith("*") and name.startswith(pattern[:-1]) and len(pattern) > best:
            best, ttl = len(pattern), value
    return ttl


def take_expired(queue: QueueDestination[Any, Any], now: float) -> list[Message]:
    """Remove the messages of ``queue`` whose deadline is past, keeping the order of the
    others, and set ``queue.earliest`` to the earliest deadline left. O(backlog)."""
    backlog = queue.backlog
    levels = backlog.deques() if isinstance(backlog, PriorityBacklog) else [backlog]
    expired: list[Message] = []
    earliest = math.inf
    for level in levels:
        kept: deque[Message] = deque()
        for message in level:
            deadline = message.deadline
            if deadline is None:
                kept.append(message)
            elif deadline <= now:
                expired.append(message)
            else:
                kept.append(message)
                earliest = min(earliest, deadline)
        if len(kept) != len(level):
            level.clear()
            level.extend(kept)
    if expired:
        if isinstance(backlog, PriorityBacklog):
            backlog.recount()
        queue.backlog_bytes -= sum(len(m.body) for m in expired)
    queue.earliest = earliest
    return expired
