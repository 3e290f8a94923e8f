"""Point-to-point destinations: a bounded backlog and competing consumers."""

from __future__ import annotations

import math
from collections import deque
from typing import Generic, TypeVar

from .consumers import Consumer, ConsumerRanking, ranking_for
from .message import Message
from .priority import PriorityBacklog

__all__ = ["Consumer", "QueueDestination"]


C = TypeVar("C", bound=Consumer)
P = TypeVar("P")


class QueueDestination(Generic[C, P]):
    """A queue's backlog and its consumers, served round-robin among those with room.

    Generic in the consumer and producer types, so that this module needs nothing of the
    sessions that use it.
    """

    __slots__ = (
        "_next",
        "backlog",
        "backlog_bytes",
        "blocked",
        "consumers",
        "delivered",
        "earliest",
        "name",
        "published",
        "ranking",
        "ttl",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.backlog: deque[Message] | PriorityBacklog = deque()
        """Waiting messages: a plain deque until a priority arrives (:meth:`use_priorities`)."""
        self.backlog_bytes = 0
        self.ttl: int | None = None
        """Time to live (ms) of messages sent here, from ``queue_ttl``."""
        self.earliest = math.inf
        """No waiting message expires before this (ms since the epoch): a lower bound
        that lets an expiry sweep pass the queue by."""
        self.consumers: list[C] = []
        self.blocked: list[P] = []
        """Producers whose reading is paused until the backlog drains."""
        self._next = 0
        self.ranking: ConsumerRanking[C] | None = None
        """Set while a consumer is exclusive or has a priority (:mod:`.consumers`)."""
        self.published = 0
        """Messages the broker accepted into this queue (for per-queue rates)."""
        self.delivered = 0
        """Messages handed from it to consumers, redeliveries included."""

    def next_consumer(self) -> C | None:
        """The next consumer in round-robin order that can take a message now (or, while
        the queue has a ranking, the one the ranking chooses)."""
        if self.ranking is not None:
            return self.ranking.next_consumer()
        consumers = self.consumers
        count = len(consumers)
        start = self._next
        for step in range(count):
            index = (start + step) % count
            consumer = consumers[index]
            if consumer.has_room():
                self._next = index + 1
                return consumer
        return None

    def add_consumer(self, consumer: C) -> None:
        self.consumers.append(consumer)
        if self.ranking is not None or consumer.exclusive or consumer.priority:
            self.ranking = ranking_for(self.consumers, self.ranking)

    def remove_consumer(self, consumer: C) -> None:
        self.consumers.remove(consumer)
        if self.ranking is not None:
            self.ranking = ranking_for(self.consumers, self.ranking)

    def use_priorities(self) -> None:
        """Serve waiting messages by priority from now on (once a priority is sent)."""
        if not isinstance(self.backlog, PriorityBacklog):
            self.backlog = PriorityBacklog(self.backlog)

    def push(self, message: Message) -> None:
        self.backlog.append(message)
        self.backlog_bytes += len(message.body)

    def push_front(self, messages: list[Message]) -> None:
        """Return messages to the head of the queue (of their priority levels), keeping
        their order."""
        self.backlog.extendleft(reversed(messages))
        for message in messages:
            if message.deadline is not None and message.deadline < self.earliest:
                self.earliest = message.deadline
        self.backlog_bytes += sum(len(m.body) for m in messages)

    def pop(self) -> Message:
        message = self.backlog.popleft()
        self.backlog_bytes -= len(message.body)
        return message
