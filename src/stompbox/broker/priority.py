"""A queue backlog ordered by message priority, for queues that are sent priorities.

A queue starts with a plain deque; the first message with a ``priority`` other than the
default makes it switch to a :class:`PriorityBacklog` (so a queue never sent one pays
nothing). Ten deques, one per level: append and pop are O(1) (a pop looks at most at ten
levels), order is kept within a level, and a message put back (NACK, a consumer gone)
returns to the head of its own level.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Final

from .message import Message

__all__ = ["DEFAULT_PRIORITY", "LEVELS", "PriorityBacklog"]

LEVELS: Final = 10
"""Priorities 0 (lowest) to 9 (highest), as JMS and ActiveMQ."""
DEFAULT_PRIORITY: Final = 4
"""A message without a ``priority`` header has JMS's default."""


class PriorityBacklog:
    """The deque operations a queue uses (``append``, ``extendleft``, ``popleft``, length
    and truth), served highest priority first and first-in first-out within a level."""

    __slots__ = ("_count", "_top", "levels")

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self.levels: list[deque[Message] | None] = [None] * LEVELS
        """One deque per priority, index 0 the lowest, made when the first message of that
        priority arrives: an empty deque holds a block of about 600 bytes, so a queue sent
        one message of one priority does not pay for ten."""
        self._count = 0
        self._top = 0
        """No level above this holds a message: where a pop starts looking."""
        for message in messages:
            self.append(message)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[Message]:
        """Messages in the order they would be popped."""
        for level in reversed(self.levels):
            if level is not None:
                yield from level

    def deques(self) -> list[deque[Message]]:
        """The levels made so far, lowest first."""
        return [level for level in self.levels if level is not None]

    def _level(self, priority: int) -> deque[Message]:
        level = self.levels[priority]
        if level is None:
            level = self.levels[priority] = deque()
        return level

    def append(self, message: Message) -> None:
        priority = message.priority
        level = self.levels[priority]
        if level is None:
            level = self._level(priority)
        level.append(message)
        self._count += 1
        if priority > self._top:
            self._top = priority

    def extendleft(self, messages: Iterable[Message]) -> None:
        """Put each message at the head of its level, as ``deque.extendleft`` does
        (so the last one given ends up first)."""
        for message in messages:
            priority = message.priority
            self._level(priority).appendleft(message)
            self._count += 1
            if priority > self._top:
                self._top = priority

    def popleft(self) -> Message:
        """The oldest message of the highest non-empty level; IndexError if empty."""
        levels = self.levels
        top = self._top
        while top >= 0:
            level = levels[top]
            if level:
                self._top = top
                self._count -= 1
                return level.popleft()
            top -= 1
        self._top = 0
        raise IndexError("pop from an empty PriorityBacklog")

    def recount(self) -> None:
        """Count again after levels were changed directly (expired messages taken out)."""
        self._count = sum(len(level) for level in self.deques())
