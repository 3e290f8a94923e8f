"""Exclusive consumers and consumer priorities, driven synchronously through the broker and
a queue: who succeeds an exclusive consumer, how headers are read, and that a queue goes
back to plain round-robin when its last ranked consumer leaves."""

from __future__ import annotations

import pytest

from stompbox.broker import Broker, BrokerError
from stompbox.broker.consumers import consumer_terms
from stompbox.broker.queues import QueueDestination
from stompbox.protocol import Frame

from .test_broker import Client


def subscribe(client: Client, sub_id: str, *headers: tuple[str, str]) -> None:
    frame = Frame(
        "SUBSCRIBE",
        (("destination", "/queue/q"), ("id", sub_id), ("ack", "client-individual"), *headers),
    )
    client.broker.subscribe(client.session, frame)


def receivers(client: Client) -> list[str | None]:
    return [frame.get("subscription") for frame in client.received()]


def test_the_active_exclusive_consumer_keeps_the_queue_until_it_leaves() -> None:
    broker = Broker()
    client, producer = Client(broker), Client(broker)
    subscribe(client, "first", ("exclusive", "true"), ("x-priority", "1"))
    subscribe(client, "plain", ("x-priority", "100"))  # not exclusive: waits, whatever its rank
    subscribe(client, "late-high", ("exclusive", "true"), ("x-priority", "9"))
    subscribe(client, "early-high", ("activemq.exclusive", "true"), ("activemq.priority", "9"))
    producer.send("/queue/q", b"1")
    assert receivers(client) == ["first"]  # a higher one joining does not take over
    broker.unsubscribe(client.session, Frame("UNSUBSCRIBE", (("id", "first"),)))
    producer.send("/queue/q", b"2")
    # its unacked message 1 comes back first, to the highest-priority exclusive consumer
    # that subscribed first (late-high subscribed before early-high)
    assert receivers(client) == ["late-high", "late-high"]
    broker.unsubscribe(client.session, Frame("UNSUBSCRIBE", (("id", "late-high"),)))
    assert receivers(client) == ["early-high", "early-high"]
    broker.unsubscribe(client.session, Frame("UNSUBSCRIBE", (("id", "early-high"),)))
    producer.send("/queue/q", b"3")
    assert receivers(client) == ["plain"] * 3  # 1 and 2 again, then 3


class Plain:
    def __init__(self, exclusive: bool = False, priority: int = 0) -> None:
        self.exclusive = exclusive
        self.priority = priority

    def has_room(self) -> bool:
        return True


def test_a_queue_ranks_its_consumers_only_while_one_asks_for_it() -> None:
    queue: QueueDestination[Plain, object] = QueueDestination("/queue/q")
    a, b, ranked = Plain(), Plain(priority=0), Plain(priority=-3)
    queue.add_consumer(a)
    queue.add_consumer(b)
    assert queue.ranking is None  # priority 0 is the default: plain round-robin
    assert [queue.next_consumer() for _ in range(3)] == [a, b, a]
    queue.add_consumer(ranked)
    assert queue.ranking is not None
    assert [queue.next_consumer() for _ in range(3)] == [a, b, a]  # ranked is lower
    queue.remove_consumer(ranked)
    assert queue.ranking is None
    queue.add_consumer(exclusive := Plain(exclusive=True))
    assert [queue.next_consumer() for _ in range(2)] == [exclusive, exclusive]
    queue.remove_consumer(exclusive)
    assert queue.ranking is None


@pytest.mark.parametrize(
    ("headers", "terms"),
    [
        ((), (False, 0)),
        ((("exclusive", "TRUE"),), (True, 0)),
        ((("x-priority", "+5"), ("activemq.priority", "5")), (False, 5)),
        ((("x-priority", "-7"), ("x-priority", "bad")), (False, -7)),  # the first counts
        ((("exclusive", "false"), ("x-single-active-consumer", "false")), (False, 0)),
    ],
)
def test_terms_read_from_either_brokers_headers(
    headers: tuple[tuple[str, str], ...], terms: tuple[bool, int]
) -> None:
    assert consumer_terms(headers, True) == terms


def test_a_topic_may_say_false_or_zero_but_no_more() -> None:
    assert consumer_terms((("exclusive", "false"), ("x-priority", "0")), False) == (False, 0)
    with pytest.raises(BrokerError, match="exclusive on a topic"):
        consumer_terms((("exclusive", "true"),), False)
    with pytest.raises(BrokerError, match="conflicting priority headers"):
        consumer_terms((("x-priority", "5"), ("activemq.priority", "6")), True)
