"""When memory is given back: once the process holds a burst's worth more than the
broker does, and once more on the next tick; not while the two move together."""

from __future__ import annotations

from stompbox.broker import Broker
from stompbox.protocol.message import _DESTINATION_LINES
from stompbox.server.trim import MemoryTrimmer, resident_bytes

from ..broker.test_broker import Client

MiB = 1024 * 1024


class Resident:
    """A resident size the test sets, as ``/proc`` would report it."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self) -> int:
        return self.size


def test_trims_after_a_burst_is_freed_then_once_more_then_rests() -> None:
    broker = Broker()
    resident = Resident(30 * MiB)
    trimmer = MemoryTrimmer(broker, threshold=16 * MiB, resident=resident)  # the baseline
    producer = Client(broker)
    for index in range(200):
        producer.send(f"/queue/q{index}", b"x" * 100_000)
    resident.size += broker.memory.used  # 20 MB held, and resident
    assert not trimmer.check()
    consumer = Client(broker)
    for index in range(200):
        consumer.subscribe(f"/queue/q{index}", str(index))
    assert len(consumer.received()) == 200  # auto ack: consumed once written
    assert broker.memory.used == 0  # freed, but still resident
    assert _DESTINATION_LINES and broker._routes
    assert trimmer.check()
    assert not _DESTINATION_LINES and not broker._routes  # caches pin freed memory
    resident.size = 31 * MiB  # what the trim gave back
    assert trimmer.check()  # the follow-up, for sessions closed since
    assert not trimmer.check()
    assert trimmer.trims == 2


def test_memory_the_broker_holds_is_no_reason_to_trim() -> None:
    broker = Broker()
    resident = Resident(30 * MiB)
    trimmer = MemoryTrimmer(broker, threshold=1 * MiB, resident=resident)
    producer = Client(broker)
    for _ in range(100):
        producer.send("/queue/q", b"x" * 100_000)
        resident.size += 100_000 + 1024
        assert not trimmer.check()


def test_resident_bytes_reads_this_process() -> None:
    size = resident_bytes()
    assert size is not None and 5 * MiB < size < 4096 * MiB
