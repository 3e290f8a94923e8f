"""Writing sessions' output once per event-loop turn, after the message store's commit."""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["OutputScheduler", "Sync", "Writable"]


class Writable(Protocol):
    def flush(self) -> None:
        """Hand everything queued to the transport."""


class Sync(Protocol):
    def __call__(self, *, lazy: bool = False) -> bool:
        """Commit what output may depend on (see :meth:`stompbox.broker.Broker.sync`);
        False if the commit failed."""


class OutputScheduler:
    """Writes the output of sessions that have some, once per event-loop turn.

    A session asks to be written with :meth:`add` when its output goes from empty to not
    empty; the first such request of a turn schedules one :meth:`run` for all of them, so
    that a publisher's read that reaches a hundred subscribers costs a hundred writes, not
    one per message.

    With ``sync`` (the broker's, when it has a message store) a run commits the store
    before it writes anything, and again before each session's write if a write before
    it made a change a client may hear of (a stored message handed to a consumer). That
    is the group commit: one sync of the disk per turn for the SENDs of every connection,
    and no RECEIPT or MESSAGE reaches a socket before the rows it depends on are on disk.
    If a commit fails, nothing more is written and the run is tried again ``retry``
    seconds later: clients wait, as publishers do under RabbitMQ's disk alarm.
    """

    __slots__ = ("_dirty", "_loop", "_scheduled", "_sync", "retry")

    def __init__(self, sync: Sync | None = None, retry: float = 1.0) -> None:
        self._dirty: list[Writable] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync = sync
        self.retry = retry

    def add(self, session: Writable) -> None:
        self._dirty.append(session)
        if not self._scheduled:
            self._scheduled = True
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self.run)

    def wake(self) -> None:
        """Run in this turn even if no session has output: the store has changes to commit.

        Outside an event loop (a broker driven by a test or a script) it does nothing;
        the next run, or the broker's ``sync`` or ``close``, commits them.
        """
        if self._scheduled:
            return
        loop = self._loop
        if loop is None:
            try:
                loop = self._loop = asyncio.get_running_loop()
            except RuntimeError:
                return
        self._scheduled = True
        loop.call_soon(self.run)

    def run(self) -> None:
        """Write every waiting session; sessions that gain output meanwhile are written too."""
        self._scheduled = False
        sync = self._sync
        if sync is not None and not sync():
            self._try_again()
            return
        dirty = self._dirty
        while dirty:
            self._dirty = []
            for index, session in enumerate(dirty):
                if sync is not None and not sync(lazy=True):
                    self._dirty = dirty[index:] + self._dirty
                    self._try_again()
                    return
                session.flush()
            dirty = self._dirty

    def commit(self) -> bool:
        """Commit now, for a session that writes outside a run (one closing); False if
        the commit failed and its output must not go."""
        return self._sync is None or self._sync()

    def _try_again(self) -> None:
        self._scheduled = True
        asyncio.get_running_loop().call_later(self.retry, self.run)
