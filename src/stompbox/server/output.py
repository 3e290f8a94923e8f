"""Writing sessions' output once per event-loop turn."""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["OutputScheduler", "Writable"]


class Writable(Protocol):
    def flush(self) -> None:
        """Hand everything queued to the transport."""


class OutputScheduler:
    """Writes the output of sessions that have some, once per event-loop turn.

    A session asks to be written with :meth:`add` when its output goes from empty to not
    empty; the first such request of a turn schedules one :meth:`run` for all of them, so
    that a publisher's read that reaches a hundred subscribers costs a hundred writes, not
    one per message.
    """

    __slots__ = ("_dirty", "_loop", "_scheduled")

    def __init__(self) -> None:
        self._dirty: list[Writable] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, session: Writable) -> None:
        self._dirty.append(session)
        if not self._scheduled:
            self._scheduled = True
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self.run)

    def run(self) -> None:
        """Write every waiting session; sessions that gain output meanwhile are written too."""
        self._scheduled = False
        dirty = self._dirty
        while dirty:
            self._dirty = []
            for session in dirty:
                session.flush()
            dirty = self._dirty
