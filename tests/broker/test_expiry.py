"""The pieces of issue 17 that need no socket: the priority backlog's order, the reading
of the delivery headers and ``queue_ttl``, the sweep, and the store's deadline column
(an expired message's row is deleted at restore). Over sockets: tests/server and
tests/client ``test_delivery_terms``."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

import pytest

from stompbox.broker import Broker, BrokerConfig, BrokerError
from stompbox.broker.admin import BrokerAdmin
from stompbox.broker.expiry import queue_ttl, stamp, take_expired
from stompbox.broker.memory import MESSAGE_OVERHEAD
from stompbox.broker.message import Message
from stompbox.broker.priority import PriorityBacklog
from stompbox.broker.queues import QueueDestination
from stompbox.server.config import ServerConfig
from stompbox.server.config_rules import ConfigError


def message(body: str, priority: int = 4, deadline: float | None = None) -> Message:
    m = Message("/queue/a", body, (), body.encode())
    m.priority, m.deadline = priority, deadline
    return m


def test_priority_backlog_pops_highest_first_and_fifo_within_a_level() -> None:
    backlog = PriorityBacklog([message("m1"), message("h1", 9), message("l1", 0)])
    backlog.append(message("h2", 9))
    backlog.append(message("m2"))
    assert len(backlog) == 5 and [m.id for m in backlog] == ["h1", "h2", "m1", "m2", "l1"]
    taken = [backlog.popleft() for _ in range(3)]
    assert [m.id for m in taken] == ["h1", "h2", "m1"]
    backlog.extendleft(reversed(taken))  # as QueueDestination.push_front does
    assert [backlog.popleft().id for _ in range(5)] == ["h1", "h2", "m1", "m2", "l1"]
    assert not backlog
    with pytest.raises(IndexError):
        backlog.popleft()


def test_priority_backlog_makes_only_the_levels_it_is_sent() -> None:
    backlog = PriorityBacklog([message("a", 9), message("b", 9)])
    assert len(backlog.deques()) == 1  # not ten deques of ~600 bytes for one priority
    backlog.extendleft([message("c", 2)])
    assert [len(level) for level in backlog.deques()] == [1, 2]


def test_a_queue_switches_to_priorities_keeping_what_waits() -> None:
    queue: QueueDestination[object, object] = QueueDestination("/queue/a")  # type: ignore[type-var]
    queue.push(message("first"))
    queue.push(message("second"))
    queue.use_priorities()
    assert isinstance(queue.backlog, PriorityBacklog)
    queue.push(message("urgent", 9))
    assert [queue.pop().id for _ in range(3)] == ["urgent", "first", "second"]
    assert queue.backlog_bytes == 0


def test_stamp_reads_the_headers_first_one_wins_and_the_earliest_deadline() -> None:
    m = Message(
        "/queue/a",
        "1",
        (("priority", "7"), ("priority", "x"), ("expiration", "500"), ("expires", "1300")),
        b"",
    )
    stamp(m, None, 1000.0)
    assert (m.priority, m.deadline) == (7, 1300)
    m = Message("/queue/a", "2", (("expiration", "500"),), b"")
    stamp(m, 200, 1000.0)  # the queue's TTL is shorter
    assert m.deadline == 1200
    m = Message("/queue/a", "3", (("expires", "0"),), b"")
    stamp(m, None, 1000.0)
    assert (m.priority, m.deadline) == (4, None)


@pytest.mark.parametrize(
    ("header", "value", "says"),
    [
        ("priority", "256", "from 0 to 9"),
        ("priority", "", "from 0 to 9"),
        ("expires", "-1", "whole number of milliseconds"),
        ("expiration", "1e3", "whole number of milliseconds"),
        ("expiration", "9" * 16, "at most 15 digits"),
    ],
)
def test_stamp_refuses_bad_values_naming_the_header(header: str, value: str, says: str) -> None:
    with pytest.raises(BrokerError) as caught:
        stamp(Message("/queue/a", "1", ((header, value),), b""), None, 0.0)
    assert caught.value.message == f"invalid {header} header"
    assert says in caught.value.detail


def test_priorities_past_9_count_as_9_up_to_amqps_255() -> None:
    for value, level in (("9", 9), ("10", 9), ("255", 9), ("0", 0)):
        m = Message("/queue/a", "1", (("priority", value),), b"")
        stamp(m, None, 0.0)
        assert m.priority == level


def test_queue_ttl_exact_name_then_longest_prefix() -> None:
    rules = {"/queue/a": 1, "/queue/*": 2, "/queue/a.*": 3}
    assert queue_ttl(rules, "/queue/a") == 1
    assert queue_ttl(rules, "/queue/a.b") == 3
    assert queue_ttl(rules, "/queue/b") == 2
    assert queue_ttl({"/queue/a": 1}, "/queue/b") is None


def test_take_expired_keeps_the_others_in_order() -> None:
    queue: QueueDestination[object, object] = QueueDestination("/queue/a")  # type: ignore[type-var]
    for m in [message("a", deadline=10), message("b"), message("c", deadline=30)]:
        queue.push(m)
    queue.push(message("d", deadline=5))
    assert [m.id for m in take_expired(queue, 10)] == ["a", "d"]
    assert [m.id for m in queue.backlog] == ["b", "c"]
    assert (queue.backlog_bytes, queue.earliest) == (2, 30)
    assert take_expired(queue, 20) == [] and queue.earliest == 30
    queue.use_priorities()
    queue.push(message("e", 9, deadline=25))
    assert [m.id for m in take_expired(queue, 40)] == ["c", "e"]
    assert (len(queue.backlog), queue.earliest) == (1, math.inf)


def test_config_refuses_a_bad_queue_ttl() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BrokerConfig(queue_ttl={"/queue/a": 0})
    for name in ("orders", "/topic/orders", "/queue/"):
        with pytest.raises(ValueError, match=r"not a queue name under a queue prefix \(/queue/\)"):
            BrokerConfig(queue_ttl={name: 5})
    with pytest.raises(ConfigError, match=r"\[broker\] queue_ttl = \{'/queue/a': 0\}: expected"):
        ServerConfig.from_dict({"broker": {"queue_ttl": {"/queue/a": 0}}})
    with pytest.raises(ConfigError, match="'/topic/a' is not a queue name"):
        ServerConfig.from_dict({"broker": {"queue_ttl": {"/topic/a": 5}}})


def test_the_sweep_drops_expired_messages_of_a_queue_without_consumers() -> None:
    broker = Broker()
    broker.clock = lambda: 1000.0
    broker.publish("/queue/a", (("expiration", "100"),), b"x")
    broker.publish("/queue/a", (), b"y")
    broker.publish("/queue/b", (("expiration", "100"),), b"z")
    held = broker.memory.used
    assert broker.sweep_expired() == 0
    broker.clock = lambda: 1000.2
    assert broker.sweep_expired() == 2
    assert (broker.queue_depth("/queue/a"), broker.queue_depth("/queue/b")) == (1, 0)
    assert broker.stats.expired == 2
    assert broker.memory.used == held - 2 * (1 + MESSAGE_OVERHEAD)


def test_an_expired_stored_message_is_deleted_at_restore(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    broker = Broker(BrokerConfig(store=str(path)))
    broker.publish("/queue/a", (("persistent", "true"), ("expiration", "50")), b"gone")
    broker.publish("/queue/a", (("persistent", "true"), ("expiration", "60000")), b"kept")
    broker.close()
    time.sleep(0.1)
    broker = Broker(BrokerConfig(store=str(path)))
    assert (broker.queue_depth("/queue/a"), broker.stats.expired) == (1, 1)
    broker.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT body, expires > 0 FROM messages").fetchall()
    assert rows == [(b"kept", 1)]


def test_an_expired_dead_letter_moved_back_is_not_expired_again() -> None:
    broker = Broker(BrokerConfig(dead_letter_expired=True))
    broker.clock = lambda: 1000.0
    broker.publish("/queue/a", (("expiration", "100"), ("x-trace", "7")), b"x")
    broker.clock = lambda: 1000.2
    assert broker.sweep_expired() == 1
    assert broker.queue_depth("/queue/DLQ.a") == 1
    assert BrokerAdmin(broker).requeue("/queue/DLQ.a").moved == 1
    [back] = BrokerAdmin(broker).browse("/queue/a")
    assert dict(back.headers) == {"x-trace": "7"}
    broker.clock = lambda: 2000.0
    assert (broker.sweep_expired(), broker.queue_depth("/queue/a")) == (0, 1)
