"""Exclusive consumers and consumer priorities: who of a queue's consumers gets a message.

A queue serves its consumers round-robin (:meth:`QueueDestination.next_consumer`) until
one subscribes with an exclusive flag or a priority other than 0; from then until the last
such consumer leaves, a :class:`ConsumerRanking` chooses instead. A queue that uses
neither pays one ``is None`` test per message. See docs/delivery.md.

- Exclusive (``exclusive``, ActiveMQ's ``activemq.exclusive``, RabbitMQ's
  ``x-single-active-consumer``): while any exclusive consumer is subscribed, one of them,
  the active one, gets every message; the others, exclusive or not, wait. The first to
  subscribe is active until it leaves; then the exclusive consumer with the highest
  priority (the earliest subscribed among equals) takes over, after the messages the old
  one left unacknowledged have gone back to the head of the queue.
- Priority (RabbitMQ's ``x-priority``, ActiveMQ's ``activemq.priority``; 0 by default):
  a message goes to the highest-priority consumers that have room, round-robin among
  equals; lower ones get messages only while every higher one is full (RabbitMQ's and
  ActiveMQ's rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Generic, Protocol, TypeVar

from .errors import BrokerError

__all__ = [
    "EXCLUSIVE_HEADERS",
    "PRIORITY_RANGES",
    "Consumer",
    "ConsumerRanking",
    "consumer_terms",
    "ranking_for",
]

EXCLUSIVE_HEADERS: Final = ("exclusive", "activemq.exclusive", "x-single-active-consumer")
"""SUBSCRIBE headers that make a consumer exclusive: ``true`` or ``false``."""

PRIORITY_RANGES: Final = {
    "x-priority": (-(2**31), 2**31 - 1),
    "activemq.priority": (0, 127),
}
"""SUBSCRIBE headers that set a consumer's priority, each with its broker's range: a
signed 32-bit integer for RabbitMQ (as AMQP's ``x-priority``), 0 to 127 for ActiveMQ."""

_MAX_DIGITS = 11


class Consumer(Protocol):
    """What a queue needs of a subscription: whether it can take a message now, and how
    it asked to be ranked among the queue's other consumers."""

    exclusive: bool
    priority: int

    def has_room(self) -> bool: ...


C = TypeVar("C", bound=Consumer)


def _flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise BrokerError(f"invalid {name} header", f"{name} must be true or false, not {value!r}")
    return lowered == "true"


def _priority(name: str, value: str) -> int:
    low, high = PRIORITY_RANGES[name]
    digits = value[1:] if value[:1] in ("-", "+") else value
    number = (
        int(value) if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS else None
    )
    if number is None or not low <= number <= high:
        raise BrokerError(
            f"invalid {name} header",
            f"{name} must be an integer from {low} to {high} (higher is served first), "
            f"not {value!r}",
        )
    return number


def consumer_terms(headers: Sequence[tuple[str, str]], on_queue: bool) -> tuple[bool, int]:
    """A SUBSCRIBE's exclusive flag and priority, from whichever of each broker's headers
    it carries (the first of a repeated header counts, as STOMP 1.2 says).

    Refuses, with the header named, a value out of its range, two headers that disagree
    (``exclusive:true`` with ``activemq.exclusive:false``), and an exclusive flag or a
    priority on a topic, whose every subscriber gets every message.
    """
    exclusive: tuple[str, bool] | None = None
    priority: tuple[str, int] | None = None
    seen: set[str] = set()
    for name, value in headers:
        if name in seen:
            continue
        if name in EXCLUSIVE_HEADERS:
            seen.add(name)
            flag = _flag(name, value)
            if exclusive is not None and exclusive[1] != flag:
                raise BrokerError(
                    "conflicting exclusive headers",
                    f"{exclusive[0]}:{str(exclusive[1]).lower()} and {name}:{value} disagree",
                )
            exclusive = (name, flag)
        elif name in PRIORITY_RANGES:
            seen.add(name)
            number = _priority(name, value)
            if priority is not None and priority[1] != number:
                raise BrokerError(
                    "conflicting priority headers",
                    f"{priority[0]}:{priority[1]} and {name}:{value} disagree",
                )
            priority = (name, number)
    is_exclusive = exclusive is not None and exclusive[1]
    level = priority[1] if priority is not None else 0
    if not on_queue and (is_exclusive or level):
        named = exclusive[0] if is_exclusive and exclusive is not None else None
        name = named or (priority[0] if priority is not None else "")
        raise BrokerError(
            f"{name} on a topic",
            f"{name} ranks a queue's competing consumers; every subscriber of a topic gets "
            "every message, so it applies to queue destinations only",
        )
    return is_exclusive, level


class ConsumerRanking(Generic[C]):
    """A queue's consumers as exclusive ones and priority levels, to choose among them.

    Rebuilt (:meth:`update`) when a consumer joins or leaves, which is rare beside
    choosing, which happens once per message.
    """

    __slots__ = ("active", "cursors", "exclusive", "levels")

    def __init__(self) -> None:
        self.exclusive: list[C] = []
        """Exclusive consumers, in order of succession: highest priority, then earliest."""
        self.active: C | None = None
        """The exclusive consumer that gets the messages, from when it joins (the first
        exclusive one) or succeeds until it leaves."""
        self.levels: list[list[C]] = []
        """All consumers grouped by priority, highest first, each in subscription order."""
        self.cursors: list[int] = []
        """Where round-robin resumes in each level."""

    def update(self, consumers: Sequence[C]) -> None:
        """Take the queue's consumers (in subscription order) after one joined or left."""
        self.exclusive = sorted((c for c in consumers if c.exclusive), key=_by_priority)
        if self.active not in self.exclusive:  # the first to join, or a successor
            self.active = self.exclusive[0] if self.exclusive else None
        by_level: dict[int, list[C]] = {}
        for consumer in consumers:
            by_level.setdefault(consumer.priority, []).append(consumer)
        self.levels = [by_level[level] for level in sorted(by_level, reverse=True)]
        self.cursors = [0] * len(self.levels)

    def next_consumer(self) -> C | None:
        """The consumer to hand the next message to, or None if it must wait."""
        active = self.active
        if active is not None:
            return active if active.has_room() else None
        cursors = self.cursors
        for index, level in enumerate(self.levels):
            count = len(level)
            start = cursors[index]
            for step in range(count):
                at = (start + step) % count
                consumer = level[at]
                if consumer.has_room():
                    cursors[index] = at + 1
                    return consumer
        return None


def _by_priority(consumer: Consumer) -> int:
    return -consumer.priority  # sorted() is stable: subscription order among equals


def ranking_for(
    consumers: Sequence[C], ranking: ConsumerRanking[C] | None
) -> ConsumerRanking[C] | None:
    """The ranking a queue with these consumers needs (``ranking`` updated, or a new one),
    or None when none of them is exclusive or has a priority: plain round-robin again."""
    if not any(c.exclusive or c.priority for c in consumers):
        return None
    if ranking is None:
        ranking = ConsumerRanking()
    ranking.update(consumers)
    return ranking
