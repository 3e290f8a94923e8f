"""Persistent queue messages survive a broker restart; everything else stays in memory."""

from __future__ import annotations

from pathlib import Path

from stompbox.broker import Broker, BrokerConfig
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
    assert back.get("redelivery-count") == "1"


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
