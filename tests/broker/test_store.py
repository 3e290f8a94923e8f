"""Persistent queue messages survive a broker restart; everything else stays in memory."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from stompbox.broker import Broker, BrokerConfig, BrokerError
from stompbox.broker.store import MessageStore, StoreError
from stompbox.protocol import Frame

from .test_broker import Client

PERSISTENT = ("persistent", "true")


def broker_at(path: Path, **config: object) -> Broker:
    return Broker(BrokerConfig(store=str(path), **config))  # type: ignore[arg-type]


def test_persistent_queue_messages_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "messages.db"
    first = broker_at(db)
    producer = Client(first)
    producer.send("/queue/orders", b"kept", PERSISTENT, ("content-type", "text/plain"))
    producer.send("/queue/orders", b"in memory only")
    producer.send("/topic/news", b"never stored", PERSISTENT)
    assert first.store is not None and len(first.store) == 1
    first.close()

    second = broker_at(db)
    consumer = Client(second)
    consumer.subscribe("/queue/orders", ack="client-individual")
    [message] = consumer.received()
    assert message.body == b"kept"
    assert message.get("content-type") == "text/plain"
    assert message.get("persistent") == "true"
    consumer.ack(message.get("ack") or "")
    assert second.store is not None and len(second.store) == 0
    second.close()


def test_auto_ack_delivery_consumes_the_stored_copy(tmp_path: Path) -> None:
    broker = broker_at(tmp_path / "m.db")
    consumer, producer = Client(broker), Client(broker)
    consumer.subscribe("/queue/q")
    producer.send("/queue/q", b"x", PERSISTENT)
    assert consumer.bodies() == [b"x"]
    assert broker.store is not None and len(broker.store) == 0


def test_unacked_messages_and_their_counts_survive(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    first = broker_at(db)
    consumer, producer = Client(first), Client(first)
    consumer.subscribe("/queue/q", ack="client")
    producer.send("/queue/q", b"a", PERSISTENT)
    [m] = consumer.received()
    consumer.ack(m.get("ack") or "", "NACK")  # redelivered once...
    consumer.received()
    first.close()  # ...and the broker stops before an ACK

    second = broker_at(db)
    again = Client(second)
    again.subscribe("/queue/q")
    [back] = again.received()
    assert back.body == b"a"
    assert back.get("redelivery-count") == "2"  # NACKed once, then delivered and not acked


def test_dead_lettered_messages_stay_stored_under_the_dead_letter_queue(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    first = broker_at(db, max_redeliveries=0)
    consumer, producer = Client(first), Client(first)
    consumer.subscribe("/queue/jobs", ack="client-individual")
    producer.send("/queue/jobs", b"poison", PERSISTENT)
    [m] = consumer.received()
    consumer.ack(m.get("ack") or "", "NACK")
    first.close()

    second = broker_at(db)
    dlq = Client(second)
    dlq.subscribe("/queue/DLQ.jobs")
    [dead] = dlq.received()
    assert dead.body == b"poison"
    assert dead.get("original-destination") == "/queue/jobs"


def test_transactions_store_on_commit(tmp_path: Path) -> None:
    broker = broker_at(tmp_path / "m.db")
    producer = Client(broker)
    broker.begin(producer.session, Frame("BEGIN", (("transaction", "t"),)))
    producer.send("/queue/q", b"x", PERSISTENT, ("transaction", "t"))
    assert broker.store is not None and len(broker.store) == 0
    broker.commit(producer.session, Frame("COMMIT", (("transaction", "t"),)))
    assert len(broker.store) == 1


# -- only accepted messages are stored ---------------------------------------------------


def test_a_message_refused_by_a_full_queue_is_not_stored(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    first = broker_at(db, queue_max_messages=10)
    producer = Client(first)
    refused = 0
    for n in range(20):
        try:
            producer.send("/queue/q", str(n).encode(), PERSISTENT)
        except BrokerError as exc:
            assert exc.message == "queue full"
            refused += 1
    assert refused == 10
    assert first.store is not None and len(first.store) == 10
    first.close()

    second = broker_at(db)
    consumer = Client(second)
    consumer.subscribe("/queue/q")
    assert consumer.bodies() == [str(n).encode() for n in range(10)]


def test_a_message_discarded_by_a_full_dead_letter_queue_leaves_the_store(
    tmp_path: Path,
) -> None:
    db = tmp_path / "m.db"
    first = broker_at(db, queue_max_messages=1, max_redeliveries=0)
    producer, consumer = Client(first), Client(first)
    producer.send("/queue/DLQ.jobs", b"already dead")
    consumer.subscribe("/queue/jobs", ack="client-individual")
    producer.send("/queue/jobs", b"poison", PERSISTENT)
    [m] = consumer.received()
    consumer.ack(m.get("ack") or "", "NACK")  # the dead-letter queue is full: discarded
    first.close()
    assert len(broker_at(db).store or []) == 0


# -- group commit ------------------------------------------------------------------------


def stored_on_disk(db: Path) -> list[tuple[bytes, int, int]]:
    """What another process would find in the file: (body, redeliveries, delivered)."""
    with sqlite3.connect(db) as reader:
        rows = reader.execute("SELECT body, redeliveries, delivered FROM messages ORDER BY id")
        return [(bytes(body), r, d) for body, r, d in rows]


def test_changes_reach_the_disk_at_sync_in_one_commit(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    broker = broker_at(db)
    producer = Client(broker)
    for body in (b"a", b"b", b"c"):
        producer.send("/queue/q", body, PERSISTENT)
    assert broker.store is not None and len(broker.store) == 3  # counted, not yet written
    assert stored_on_disk(db) == []
    assert broker.sync()
    assert stored_on_disk(db) == [(b"a", 0, 0), (b"b", 0, 0), (b"c", 0, 0)]


def test_sync_is_asked_for_once_per_batch(tmp_path: Path) -> None:
    broker = broker_at(tmp_path / "m.db")
    asked: list[None] = []
    broker.sync_soon = lambda: asked.append(None)
    producer = Client(broker)
    producer.send("/queue/q", b"a", PERSISTENT)
    producer.send("/queue/q", b"b", PERSISTENT)
    producer.send("/queue/q", b"not persistent")
    assert len(asked) == 1
    broker.sync()
    producer.send("/queue/q", b"c", PERSISTENT)
    assert len(asked) == 2


def test_a_lazy_sync_leaves_removals_for_the_next_commit(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    broker = broker_at(db)
    producer, consumer = Client(broker), Client(broker)
    producer.send("/queue/q", b"a", PERSISTENT)
    broker.sync()
    consumer.subscribe("/queue/q")  # auto: delivered, so marked before its bytes go out
    assert broker.sync(lazy=True)
    assert stored_on_disk(db) == [(b"a", 0, 1)]
    assert consumer.bodies() == [b"a"]  # written: consumed
    assert broker.sync(lazy=True)
    assert stored_on_disk(db) == [(b"a", 0, 1)]
    assert broker.sync()
    assert stored_on_disk(db) == []


def test_a_message_stored_and_consumed_between_commits_never_touches_the_disk(
    tmp_path: Path,
) -> None:
    db = tmp_path / "m.db"
    broker = broker_at(db)
    producer, consumer = Client(broker), Client(broker)
    consumer.subscribe("/queue/q")
    producer.send("/queue/q", b"a", PERSISTENT)
    assert consumer.bodies() == [b"a"]
    assert broker.store is not None and len(broker.store) == 0
    broker.sync()
    assert stored_on_disk(db) == []


def test_a_failed_commit_keeps_the_changes_for_the_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "m.db"
    broker = broker_at(db)
    assert broker.store is not None
    with sqlite3.connect(db) as other:  # stands in for a full disk: the file is locked
        other.execute("BEGIN EXCLUSIVE")
        Client(broker).send("/queue/q", b"a", PERSISTENT)
        assert not broker.sync()
        other.rollback()
    assert f"message store {db}: cannot commit: database is locked" in caplog.text
    assert len(broker.store) == 1
    assert broker.sync()
    assert stored_on_disk(db) == [(b"a", 0, 0)]


def test_changes_made_while_a_failed_batch_was_out_are_merged_with_it(tmp_path: Path) -> None:
    """A batch is written on another thread while changes gather for the next; when its
    write fails it goes back in front of them, and the two are written as one."""
    path = tmp_path / "m.db"
    store = MessageStore(path)
    kept = store.add("/queue/q", (("k", "1"),), b"kept")
    gone = store.add("/queue/q", (), b"consumed meanwhile")
    batch = store.take_batch()
    assert batch is not None
    store.delivered(kept)  # while the batch is out
    store.remove(gone)
    later = store.add("/queue/q", (), b"later")
    with sqlite3.connect(path) as other:  # the write fails: the file is locked
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="database is locked"):
            store.write_batch(batch)
        other.rollback()
    assert store.pending and store.urgent
    assert len(store) == 2
    store.commit()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, body, delivered FROM messages ORDER BY id").fetchall()
    assert rows == [(kept, b"kept", 1), (later, b"later", 0)]
    store.close()


def test_a_batch_waits_for_the_one_taken_before_it(tmp_path: Path) -> None:
    store = MessageStore(tmp_path / "m.db")
    store.add("/queue/q", (), b"first")
    first = store.take_batch()
    assert first is not None
    store.add("/queue/q", (), b"second")
    taken: list[object] = []
    thread = threading.Thread(target=lambda: taken.append(store.take_batch()))
    thread.start()
    thread.join(0.2)
    assert thread.is_alive() and not taken  # waits: batches are written in order
    store.write_batch(first)
    thread.join(5)
    assert taken and taken[0] is not None
    store.write_batch(taken[0])  # type: ignore[arg-type]
    assert len(store) == 2
    store.close()


# -- what a restart finds ----------------------------------------------------------------


def crash(broker: Broker) -> None:
    """Stop as kill -9 would, after the last commit: no session closes, no final commit."""
    broker.sync()
    broker.store = None


def test_a_delivered_unacked_message_comes_back_redelivered_after_a_crash(
    tmp_path: Path,
) -> None:
    db = tmp_path / "m.db"
    first = broker_at(db)
    producer, consumer = Client(first), Client(first)
    for body in (b"handed out", b"waiting"):
        producer.send("/queue/q", body, PERSISTENT)
    consumer.subscribe("/queue/q", ack="client", prefetch_count="1")
    [m] = consumer.received()
    assert m.get("redelivered") is None
    crash(first)

    second = broker_at(db)
    again = Client(second)
    again.subscribe("/queue/q", ack="client-individual")
    back, waiting = again.received()
    assert (back.body, back.get("redelivered"), back.get("redelivery-count")) == (
        b"handed out",
        "true",
        "1",
    )
    assert (waiting.body, waiting.get("redelivered")) == (b"waiting", None)
    crash(second)  # delivered again, unacked again: the count keeps growing

    third = broker_at(db)
    last = Client(third)
    last.subscribe("/queue/q")
    assert [(f.body, f.get("redelivery-count")) for f in last.received()] == [
        (b"handed out", "2"),
        (b"waiting", "1"),
    ]


def test_an_auto_ack_message_not_yet_written_is_not_marked_redelivered(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    first = broker_at(db)
    producer, consumer = Client(first), Client(first)
    consumer.subscribe("/queue/q")
    producer.send("/queue/q", b"a", PERSISTENT)
    first.close_session(consumer.session)  # its bytes never reached the socket
    crash(first)

    second = broker_at(db)
    again = Client(second)
    again.subscribe("/queue/q")
    [m] = again.received()
    assert (m.body, m.get("redelivered")) == (b"a", None)


def test_a_store_of_the_first_schema_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:
        old.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, destination TEXT "
            "NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL, redeliveries INTEGER NOT "
            "NULL DEFAULT 0)"
        )
        old.execute(
            "INSERT INTO messages (destination, headers, body, redeliveries) VALUES (?, ?, ?, ?)",
            ("/queue/q", '[["persistent", "true"]]', b"old", 1),
        )
    first = broker_at(db)
    consumer = Client(first)
    consumer.subscribe("/queue/q", ack="client-individual")
    [m] = consumer.received()
    assert (m.body, m.get("redelivery-count")) == (b"old", "1")
    crash(first)
    assert stored_on_disk(db) == [(b"old", 1, 1)]


# -- a store that cannot be used is reported -----------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not a database, just some text " * 200, "file is not a database"),
        (bytes(range(256)) * 64, "file is not a database"),
    ],
)
def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    db = tmp_path / "m.db"
    db.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        broker_at(db)
    assert str(caught.value).startswith(f"message store {db}: cannot open: {reason}")


def test_a_corrupt_store_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    first = broker_at(db)
    producer = Client(first)
    for n in range(200):
        producer.send("/queue/q", b"%d" % n * 500, PERSISTENT)
    first.close()
    data = bytearray(db.read_bytes())
    data[4096 * 2 : 4096 * 4] = b"\xa5" * 8192  # pages of the table, not the header
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=f"message store {db}: cannot open: .*malformed"):
        broker_at(db)


@pytest.mark.parametrize("where", ["missing/m.db", "a-file/m.db", "."])
def test_a_store_path_that_cannot_be_opened_is_refused(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("")
    db = tmp_path / where
    with pytest.raises(StoreError, match=f"message store {db}: cannot open: .+"):
        broker_at(db)
