"""Writing sessions' output once per event-loop turn, after the message store's commit."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from typing import Any, Protocol

from stompbox.broker.store import MessageStore

__all__ = ["OutputScheduler", "Writable"]

log = logging.getLogger("stompbox.server")


class Writable(Protocol):
    def flush(self) -> None:
        """Hand everything queued to the transport."""

    def take_output(self) -> Any:
        """Take what is queued (None if nothing), for :meth:`write_output`."""

    def write_output(self, output: Any) -> None:
        """Write what :meth:`take_output` took."""


_Held = list[tuple[Writable, Any]]


class OutputScheduler:
    """Writes the output of sessions that have some, once per event-loop turn.

    A session asks to be written with :meth:`add` when its output goes from empty to not
    empty; the first such request of a turn schedules one :meth:`run` for all of them, so
    that a publisher's read that reaches a hundred subscribers costs a hundred writes, not
    one per message.

    With a message ``store``, output that may depend on changes not yet on disk (a
    RECEIPT for a persistent SEND, a MESSAGE of a stored message, which is marked as
    delivered) waits for them: a run takes the store's pending changes and the sessions'
    output together, commits the changes on a worker thread (one transaction, one sync of
    the disk, for every connection's SENDs: the group commit) and writes that output
    when the commit is done. Meanwhile the event loop goes on reading, and what it
    gathers is the next batch; SQLite releases the GIL, so the commit runs beside the
    parsing on a second core. If a commit fails, its changes go back in front of the
    pending ones, its output waits, and the run is tried again ``retry`` seconds later:
    clients wait, as publishers do under RabbitMQ's disk alarm.
    """

    __slots__ = (
        "_dirty",
        "_executor",
        "_held",
        "_inflight",
        "_loop",
        "_scheduled",
        "_store",
        "retry",
    )

    def __init__(self, store: MessageStore | None = None, retry: float = 1.0) -> None:
        self._dirty: list[Writable] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._store = store
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._inflight: tuple[concurrent.futures.Future[None], _Held] | None = None
        self._held: _Held = []
        """Output of a batch whose commit failed: written before anything else."""
        self.retry = retry

    def add(self, session: Writable) -> None:
        self._dirty.append(session)
        loop = self._loop
        if loop is None or loop.is_closed():  # first use, or an app used by a new loop
            loop = self._loop = asyncio.get_running_loop()
            self._scheduled = False  # a run scheduled on a closed loop never comes
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.run)

    def wake(self) -> None:
        """Run in this turn even if no session has output: the store has changes to commit.

        Outside an event loop (a broker driven by a test or a script) it does nothing;
        the next run, or the broker's ``sync`` or ``close``, commits them.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            try:
                loop = self._loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._scheduled = False
        if self._scheduled:
            return
        self._scheduled = True
        loop.call_soon(self.run)

    def run(self) -> None:
        """Write every waiting session, or start the commit their output waits for."""
        self._scheduled = False
        store = self._store
        if store is None:
            self._write_all()
            return
        if self._inflight is not None:
            return  # the commit's end runs again
        if store.pending or self._held:
            self._begin_commit(store)
            return
        # Nothing waits for the disk: write now, until a write makes a change a client
        # may hear of (a stored message handed to a consumer it refilled).
        while self._dirty:
            dirty, self._dirty = self._dirty, []
            for index, session in enumerate(dirty):
                if store.urgent:
                    self._dirty = dirty[index:] + self._dirty
                    break
                session.flush()
            if store.urgent:
                break
        if store.pending:
            self._begin_commit(store)  # with the output left waiting for it, if any

    def _write_all(self) -> None:
        dirty = self._dirty
        while dirty:
            self._dirty = []
            for session in dirty:
                session.flush()
            dirty = self._dirty

    def _begin_commit(self, store: MessageStore) -> None:
        """Take the pending changes and the output waiting for them; commit on a thread."""
        batch = store.take_batch()
        held, self._held = self._held, []
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            output = session.take_output()
            if output is not None:
                held.append((session, output))
        if batch is None:
            self._end_commit(held, None)
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, "stompbox-store")
        future = self._executor.submit(store.write_batch, batch)
        self._inflight = (future, held)
        loop = self._loop or asyncio.get_running_loop()

        def done(_: concurrent.futures.Future[None]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: commit() waited
                loop.call_soon_threadsafe(self._committed, future)

        future.add_done_callback(done)

    def _committed(self, future: concurrent.futures.Future[None]) -> None:
        inflight = self._inflight
        if inflight is None or inflight[0] is not future:
            return  # finished already, by commit()
        self._inflight = None
        self._end_commit(inflight[1], future.exception())

    def _end_commit(self, held: _Held, error: BaseException | None) -> None:
        """Write the output a commit held back, or keep it (and try again) if it failed:
        the store has put the batch's changes back in front of the pending ones."""
        store = self._store
        assert store is not None
        if error is not None:
            log.error("%s; output waits until a commit succeeds", error)
            self._held = held
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.retry, self.run)
            return
        for session, output in held:
            session.write_output(output)
        if (self._dirty or store.pending) and not self._scheduled:
            self._scheduled = True
            (self._loop or asyncio.get_running_loop()).call_soon(self.run)

    def commit(self) -> bool:
        """Commit now, for a session that writes outside a run (one closing): wait for a
        commit under way and write its output first, so that bytes stay in order. False
        if the store cannot be written and the session's output must not go."""
        store = self._store
        if store is None:
            return True
        inflight = self._inflight
        if inflight is not None:
            future, held = inflight
            concurrent.futures.wait([future])
            self._inflight = None
            self._end_commit(held, future.exception())
        if self._held:
            return False  # a failed batch's output is still waiting: this goes after it
        return store.try_commit()

    def close(self) -> None:
        """Wait for a commit under way; stop the worker thread."""
        if self._inflight is not None:
            self.commit()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
