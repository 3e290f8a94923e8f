"""Point-to-point destinations: a bounded backlog and competing consumers."""

from __future__ import annotations

from collections import deque
from typing import Generic, Protocol, TypeVar

from .message import Message

__all__ = ["Consumer", "QueueDestination"]


class Consumer(Protocol):
    """What a queue needs of a subscription: whether it can take a message now."""

    def has_room(self) -> bool: ...


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
        "name",
        "published",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.backlog: deque[Message] = deque()
        self.backlog_bytes = 0
        self.consumers: list[C] = []
        self.blocked: list[P] = []
        """Producers whose reading is paused until the backlog drains."""
        self._next = 0
        self.published = 0
        """Messages the broker accepted into this queue (for per-queue rates)."""
        self.delivered = 0
        """Messages handed from it to consumers, redeliveries included."""

    def next_consumer(self) -> C | None:
        """The next consumer in round-robin order that can take a message now."""
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

    def push(self, message: Message) -> None:
        self.backlog.append(message)
        self.backlog_bytes += len(message.body)

    def push_front(self, messages: list[Message]) -> None:
        """Return messages to the head of the queue, keeping their order."""
        self.backlog.extendleft(reversed(messages))
        self.backlog_bytes += sum(len(m.body) for m in messages)

    def pop(self) -> Message:
        message = self.backlog.popleft()
        self.backlog_bytes -= len(message.body)
        return message
