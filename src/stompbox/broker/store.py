"""Durable queue messages, for senders that ask for it with ``persistent:true``.

An SQLite file holds each persistent queue message from the moment the broker accepts
it until it is acknowledged, or handed to the socket of an ``auto`` subscriber. A
restarted broker puts them back in their queues, in order, with their delivery counts.
Topic messages are never stored: nobody could receive them after a restart.

Group commit: changes wait in memory, and :meth:`MessageStore.commit` writes all of them in
one transaction with one sync of the disk (``synchronous=FULL`` under WAL). The server
commits once per event-loop turn, before it writes any client's output, so that a
RECEIPT, or a MESSAGE marked as delivered, never reaches a socket before the rows it
depends on are on disk, and the sync is paid once for every connection's SENDs of that
turn. A message stored and removed between two commits never touches the disk.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from stompbox.protocol.frames import Headers

__all__ = ["Batch", "MessageStore", "StoreError"]

log = logging.getLogger("stompbox.broker")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    redeliveries INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    expires INTEGER NOT NULL DEFAULT 0
)
"""
_DURABLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS durable_subscriptions (
    queue TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    client_id TEXT NOT NULL,
    name TEXT NOT NULL,
    destination TEXT NOT NULL
)
"""
"""Durable topic subscriptions (:mod:`stompbox.broker.durable`): their backing queue,
owner, name and topic; their messages are rows of ``messages`` under the queue's name."""

_VERSION = 3
"""``PRAGMA user_version``: 2 added ``delivered`` (a file of version 0 gains it on open),
3 ``expires``, the deadline in ms since the epoch (0: none)."""

_INSERT = (
    "INSERT INTO messages (id, destination, headers, body, redeliveries, delivered, expires) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE = (
    "UPDATE messages SET destination = ?, headers = ?, redeliveries = ?, delivered = ?, "
    "expires = ? "
)
_UPDATE_COUNTS = "UPDATE messages SET redeliveries = ?, delivered = ? WHERE id = ?"


_ENCODED: dict[Headers, str] = {}
_ENCODED_LIMIT = 4_096


def _json(headers: Headers | None) -> str:
    """``headers`` as JSON, cached: a producer sends the same headers again and again, and
    encoding them was a tenth of the broker's time under persistent load."""
    assert headers is not None
    text = _ENCODED.get(headers)
    if text is None:
        if len(_ENCODED) >= _ENCODED_LIMIT:
            _ENCODED.clear()
        text = _ENCODED[headers] = json.dumps(headers)
    return text


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    """``ids`` as ranges of consecutive ids: a queue consumes its messages in order, so a
    batch of removals is a few ranges, and deleting by range took under half the time of
    deleting row by row (1.5 against 3 µs a message)."""
    ids = sorted(ids)
    runs = []
    first = last = ids[0]
    for i in ids[1:]:
        if i != last + 1:
            runs.append((first, last))
            first = i
        last = i
    runs.append((first, last))
    return runs


class StoreError(Exception):
    """The store file cannot be opened, read or written; the message names it and why."""

    def __init__(self, path: Path, action: str, exc: BaseException) -> None:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in reason:
            reason += " (corrupt, or not an SQLite file)"
        super().__init__(f"message store {path}: cannot {action}: {reason}")
        self.path = path
        self.reason = reason


class _Row:
    """A pending change to one stored message: its new fields, or None for unchanged."""

    __slots__ = ("body", "delivered", "destination", "expires", "headers", "redeliveries")

    def __init__(self) -> None:
        self.destination: str | None = None
        self.headers: Headers | None = None
        self.body: bytes | None = None
        self.redeliveries: int | None = None
        self.delivered: bool | None = None
        self.expires: int | None = None


def _merge(base: _Row, later: _Row) -> _Row:
    """``base`` with the fields ``later`` changed."""
    for name in _Row.__slots__:
        value = getattr(later, name)
        if value is not None:
            setattr(base, name, value)
    return base


Batch = tuple[dict[int, _Row], dict[int, _Row], list[int]]
"""Changes taken for one commit: new rows, changed rows, removed ids."""


class MessageStore:
    """An SQLite-backed set of persistent queue messages; synchronous like the broker.

    Changes (:meth:`add`, :meth:`remove`, :meth:`delivered`, ...) are held in memory
    until :meth:`commit`. ``on_change`` is called when the first change after a commit
    arrives, so that an owner can schedule the next commit.

    Raises :class:`StoreError` when the file cannot be opened or written (a missing
    directory, a file that is not SQLite, a corrupt one), naming the path and the reason.
    """

    def __init__(self, path: str | Path, on_change: Callable[[], object] | None = None) -> None:
        self.path = Path(path)
        self.on_change = on_change
        self._new: dict[int, _Row] = {}
        """Messages added since the last commit, by id."""
        self._changed: dict[int, _Row] = {}
        """Changes to messages already on disk."""
        self._gone: list[int] = []
        """Messages on disk to delete."""
        self._dirty = False
        self._writing = threading.Condition()
        self._outstanding = False
        """A batch was taken and is not written yet (perhaps on another thread)."""
        self._failed: Batch | None = None
        """A batch whose write failed: it goes back before the next is taken."""
        self.urgent = False
        """Whether some pending change is one a client may hear of next (a new message, a
        delivery): a removal alone can wait for the next commit."""
        try:
            # timeout 0: a file locked by another process fails at once, rather than
            # blocking the event loop for sqlite3's default of 5 s at each commit
            self._db = sqlite3.connect(
                self.path, timeout=0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(self.path, "open", exc) from None
        try:
            self._open()
            (count,) = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
            (last,) = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(self.path, "open", exc) from None
        self._on_disk = int(count)
        self._next_id = int(last) + 1

    def _open(self) -> None:
        """WAL with a sync at each commit; check the file; bring the schema up to date.

        The migration is also a write, so that a store that cannot be written is found at
        start-up rather than at the first persistent SEND.
        """
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        (check,) = db.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_SCHEMA)
            db.execute(_DURABLE_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
            if "delivered" not in columns:
                db.execute("ALTER TABLE messages ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0")
            if "expires" not in columns:
                db.execute("ALTER TABLE messages ADD COLUMN expires INTEGER NOT NULL DEFAULT 0")
            db.execute(f"PRAGMA user_version = {_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # -- changes, held until commit ----------------------------------------------------

    def add(self, destination: str, headers: Headers, body: bytes, expires: float = 0) -> int:
        """Store a new message, with its deadline (ms since the epoch; 0: none), so that
        it keeps it across restarts; returns its id."""
        message_id = self._next_id
        self._next_id += 1
        row = _Row()
        row.destination, row.headers, row.body = destination, headers, body
        row.redeliveries, row.delivered, row.expires = 0, False, int(expires)
        self._new[message_id] = row
        self._touch(urgent=True)
        return message_id

    def remove(self, message_id: int) -> None:
        """The message was consumed (acknowledged, or given to an ``auto`` subscriber)."""
        if self._new.pop(message_id, None) is None:
            self._changed.pop(message_id, None)
            self._gone.append(message_id)
            self._touch(urgent=False)

    def remove_many(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            self.remove(message_id)

    def delivered(self, message_id: int) -> None:
        """The message is being handed to a consumer: after a restart it is redelivered."""
        self._row(message_id).delivered = True

    def redelivered(self, message_id: int, redeliveries: int) -> None:
        """The message went back to its queue after ``redeliveries`` delivery attempts."""
        row = self._row(message_id)
        row.redeliveries, row.delivered = redeliveries, False

    def move(self, message_id: int, destination: str, headers: Headers) -> None:
        """A dead-lettered message keeps its row under its new destination, and no
        deadline (a dead letter does not expire)."""
        row = self._row(message_id)
        row.destination, row.headers, row.redeliveries, row.delivered, row.expires = (
            destination,
            headers,
            0,
            False,
            0,
        )

    def _row(self, message_id: int) -> _Row:
        row = self._new.get(message_id) or self._changed.get(message_id)
        if row is None:
            row = self._changed[message_id] = _Row()
        self._touch(urgent=True)
        return row

    def _touch(self, *, urgent: bool) -> None:
        if urgent:
            self.urgent = True
        if not self._dirty:
            self._dirty = True
            if self.on_change is not None:
                self.on_change()

    # -- durable subscriptions, written at once ----------------------------------------

    def bind(self, queue: str, key: tuple[str, str, str], destination: str) -> None:
        """Record a durable subscription now, in its own transaction: they are made
        rarely, and a restart must find the binding before the messages kept for it."""
        self._write_now(
            "INSERT OR REPLACE INTO durable_subscriptions VALUES (?, ?, ?, ?, ?)",
            (queue, *key, destination),
        )

    def unbind(self, queue: str) -> None:
        """Forget a durable subscription (its messages are removed one by one, as the
        broker drops them; any left by a crash are dropped at the next start)."""
        self._write_now("DELETE FROM durable_subscriptions WHERE queue = ?", (queue,))

    def _write_now(self, sql: str, parameters: tuple[str, ...]) -> None:
        """Run one statement in a transaction of its own, after the batch being written
        (perhaps on another thread) and before the next is taken."""
        with self._writing:
            while self._outstanding:
                self._writing.wait()
            db = self._db
            try:
                db.execute("BEGIN")
                db.execute(sql, parameters)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(self.path, "write", exc) from None

    def load_durable(self) -> list[tuple[tuple[str, str, str], str, str]]:
        """Every durable subscription: ((user, client-id, name), topic, backing queue)."""
        try:
            rows = self._db.execute(
                "SELECT user, client_id, name, destination, queue FROM durable_subscriptions "
                "ORDER BY rowid"
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(self.path, "read", exc) from None
        return [((str(u), str(c), str(n)), str(d), str(q)) for u, c, n, d, q in rows]

    # -- commit ------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        """Whether some change waits for :meth:`commit`."""
        return bool(self._new or self._changed or self._gone or self._failed)

    def commit(self) -> None:
        """Write every pending change in one transaction, synced to disk before it returns.

        On failure (a full disk, an I/O error) the transaction is rolled back, the changes
        stay pending for the next attempt, and :class:`StoreError` says why.
        """
        batch = self.take_batch()
        if batch is not None:
            self.write_batch(batch)

    def try_commit(self) -> bool:
        """:meth:`commit`, logging a failure rather than raising it: False when the
        changes stay pending and output that depends on them must wait."""
        try:
            self.commit()
        except StoreError as exc:
            log.error("%s; output waits until a commit succeeds", exc)
            return False
        return True

    def take_batch(self) -> Batch | None:
        """Take every pending change for :meth:`write_batch`, which may run on another
        thread while changes for the next batch gather; None if there are none.

        Batches are written one at a time and in order: this waits for a batch taken
        before to be written, and a batch whose write failed comes back first.
        """
        with self._writing:
            while self._outstanding:
                self._writing.wait()
            failed, self._failed = self._failed, None
        if failed is not None:
            self._restore(failed)
        self._dirty = self.urgent = False
        if not (self._new or self._changed or self._gone):
            return None
        batch = (self._new, self._changed, self._gone)
        self._new, self._changed, self._gone = {}, {}, []
        self._on_disk += len(batch[0]) - len(batch[2])
        self._outstanding = True
        return batch

    def write_batch(self, batch: Batch) -> None:
        """Write ``batch`` in one transaction, synced to disk before it returns; safe to
        call from another thread. Raises :class:`StoreError`, the file unchanged, and the
        batch's changes pending again."""
        new, changed, gone = batch
        try:
            db = self._db
            try:
                db.execute("BEGIN")
                if new:
                    db.executemany(
                        _INSERT,
                        [
                            (
                                i,
                                r.destination,
                                _json(r.headers),
                                r.body,
                                r.redeliveries,
                                r.delivered,
                                r.expires or 0,
                            )
                            for i, r in new.items()
                        ],
                    )
                marks = []
                for message_id, row in changed.items():
                    if row.destination is None and row.redeliveries is None:
                        marks.append(message_id)  # the usual change: one more delivery
                    else:
                        self._update(message_id, row)
                if marks:
                    db.executemany(
                        "UPDATE messages SET delivered = 1 WHERE id BETWEEN ? AND ?",
                        _runs(marks),
                    )
                if gone:
                    db.executemany("DELETE FROM messages WHERE id BETWEEN ? AND ?", _runs(gone))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self._on_disk -= len(new) - len(gone)
                self._failed = batch
                self.urgent = True
                raise StoreError(self.path, "commit", exc) from None
        finally:
            with self._writing:
                self._outstanding = False
                self._writing.notify_all()

    def _restore(self, batch: Batch) -> None:
        """Put back a batch whose write failed, in front of the changes made since, so
        that the next commit writes both as if they had been one."""
        new, changed, gone = batch
        removed = set(self._gone)
        never_written = removed & new.keys()  # added, then removed before a commit held
        if never_written:
            self._gone = [i for i in self._gone if i not in never_written]
        restored: dict[int, _Row] = {}
        for message_id, row in new.items():
            if message_id in never_written:
                continue
            later = self._changed.pop(message_id, None)
            restored[message_id] = row if later is None else _merge(row, later)
        self._new = {**restored, **self._new}
        for message_id, row in changed.items():
            if message_id in removed:
                continue
            later = self._changed.get(message_id)
            self._changed[message_id] = row if later is None else _merge(row, later)
        self._gone = gone + self._gone

    def _update(self, message_id: int, row: _Row) -> None:
        if row.destination is not None:
            self._db.execute(
                _UPDATE + "WHERE id = ?",
                (
                    row.destination,
                    _json(row.headers),
                    row.redeliveries or 0,
                    bool(row.delivered),
                    row.expires or 0,
                    message_id,
                ),
            )
        else:
            self._db.execute(_UPDATE_COUNTS, (row.redeliveries, bool(row.delivered), message_id))

    # -- reading -----------------------------------------------------------------------

    def load(self) -> Iterator[tuple[int, str, Headers, bytes, int, int]]:
        """Every stored message, oldest first: (id, destination, headers, body, redeliveries,
        expires), ``expires`` the deadline in ms since the epoch, 0 for none.

        A message that had been handed to a consumer counts one more delivery attempt
        (it comes back ``redelivered``), and that count is stored at once, so that it
        keeps counting across restarts.
        """
        try:
            rows = self._db.execute(
                "SELECT id, destination, headers, body, redeliveries + delivered, expires "
                "FROM messages ORDER BY id"
            ).fetchall()
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE messages SET redeliveries = redeliveries + 1, delivered = 0 WHERE delivered"
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(self.path, "read", exc) from None
        for message_id, destination, headers, body, redeliveries, expires in rows:
            pairs = tuple((str(name), str(value)) for name, value in json.loads(headers))
            yield message_id, destination, pairs, bytes(body), redeliveries, expires

    def __len__(self) -> int:
        """Messages stored, counting the changes not yet committed."""
        failed = self._failed
        waiting = len(failed[0]) - len(failed[2]) if failed is not None else 0
        return self._on_disk + waiting + len(self._new) - len(self._gone)

    def close(self) -> None:
        """Commit what is pending, then close the file (even if the commit fails)."""
        try:
            self.commit()
        finally:
            self._db.close()
