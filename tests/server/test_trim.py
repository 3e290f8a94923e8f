"""When memory is given back: after the broker has freed a burst's worth, once, and once
more on the next tick; not while it holds steady."""

from __future__ import annotations

from stompbox.broker import Broker
from stompbox.protocol.message import _DESTINATION_LINES
from stompbox.server.trim import MemoryTrimmer

from ..broker.test_broker import Client


def test_trims_after_a_burst_is_freed_then_once_more_then_rests() -> None:
    broker = Broker()
    trimmer = MemoryTrimmer(broker, threshold=1_000_000)
    producer = Client(broker)
    for index in range(200):
        producer.send(f"/queue/q{index}", b"x" * 10_000)
    assert not trimmer.check()  # holding 2 MB, freed nothing
    consumer = Client(broker)
    for index in range(200):
        consumer.subscribe(f"/queue/q{index}", str(index))
    assert len(consumer.received()) == 200  # auto ack: consumed once written
    assert broker.memory.used == 0
    assert _DESTINATION_LINES and broker._routes
    assert trimmer.check()
    assert not _DESTINATION_LINES and not broker._routes  # caches pin freed memory
    assert broker.memory.high == 0
    assert trimmer.check()  # the follow-up, for sessions closed since
    assert not trimmer.check()
    assert trimmer.trims == 2


def test_a_steady_broker_is_not_trimmed() -> None:
    broker = Broker()
    trimmer = MemoryTrimmer(broker, threshold=1_000_000)
    producer, consumer = Client(broker), Client(broker)
    consumer.subscribe("/queue/q", "0", "client-individual")
    for _ in range(50):
        producer.send("/queue/q", b"x" * 1000)
        [message] = consumer.received()
        consumer.ack(message.get("ack") or "")
        assert not trimmer.check()
