"""Point-to-point destinations: a bounded backlog and competing consumers."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .message import Message
    from .session import Session, Subscription

__all__ = ["QueueDestination"]


class QueueDestination:
    """A queue's backlog and its consumers, served round-robin among those with room."""

    __slots__ = ("_next", "backlog", "backlog_bytes", "blocked", "consumers", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.backlog: deque[Message] = deque()
        self.backlog_bytes = 0
        self.consumers: list[Subscription] = []
        self.blocked: list[Session] = []
        """Producers whose reading is paused until the backlog drains."""
        self._next = 0

    def next_consumer(self) -> Subscription | None:
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
