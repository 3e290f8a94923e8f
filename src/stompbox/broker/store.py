"""Durable queue messages, for senders that ask for it with ``persistent:true``.

An SQLite file (write-ahead log) holds each persistent queue message from the moment the
broker accepts it (so a SEND's RECEIPT means it is on disk) until it is acknowledged, or
delivered to an ``auto`` subscriber. A restarted broker puts them back in their queues,
in order, with their delivery counts. Topic messages are never stored: nobody could
receive them after a restart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from stompbox.protocol.frames import Headers

__all__ = ["MessageStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    redeliveries INTEGER NOT NULL DEFAULT 0
)
"""


class MessageStore:
    """An SQLite-backed set of persistent queue messages; synchronous like the broker.

    Each change commits at once (``synchronous=NORMAL`` under WAL: durable against a
    crash of the process, and against power loss up to the last checkpoint).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def add(self, destination: str, headers: Headers, body: bytes) -> int:
        cursor = self._db.execute(
            "INSERT INTO messages (destination, headers, body) VALUES (?, ?, ?)",
            (destination, json.dumps(headers), body),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def remove(self, message_id: int) -> None:
        self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def remove_many(self, message_ids: list[int]) -> None:
        """Remove several messages in one transaction (a write's worth of auto acks)."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in message_ids])

    def redelivered(self, message_id: int, redeliveries: int) -> None:
        self._db.execute(
            "UPDATE messages SET redeliveries = ? WHERE id = ?", (redeliveries, message_id)
        )

    def move(self, message_id: int, destination: str, headers: Headers) -> None:
        """A dead-lettered message keeps its row under its new destination."""
        self._db.execute(
            "UPDATE messages SET destination = ?, headers = ?, redeliveries = 0 WHERE id = ?",
            (destination, json.dumps(headers), message_id),
        )

    def load(self) -> Iterator[tuple[int, str, Headers, bytes, int]]:
        """Every stored message, oldest first: (id, destination, headers, body, redeliveries)."""
        rows = self._db.execute(
            "SELECT id, destination, headers, body, redeliveries FROM messages ORDER BY id"
        )
        for message_id, destination, headers, body, redeliveries in rows.fetchall():
            pairs = tuple((str(name), str(value)) for name, value in json.loads(headers))
            yield message_id, destination, pairs, bytes(body), redeliveries

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
        return int(count)

    def close(self) -> None:
        self._db.close()
