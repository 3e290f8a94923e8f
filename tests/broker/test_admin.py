"""The operator's actions on a broker, driven synchronously: what purge frees, where a
requeue stops and what it leaves, and the bounds of a browse."""

from __future__ import annotations

import pytest

from stompbox.broker import Broker, BrokerConfig
from stompbox.broker.admin import AdminError, BrokerAdmin, NoSuchQueue, RequeueResult
from stompbox.protocol import Frame

from ..server.test_rates import Sink


def dead_letter(broker: Broker, destination: str, *bodies: bytes) -> None:
    """Put messages in ``destination``'s dead-letter queue by a NACK each, past a limit
    of 0 redeliveries."""
    assert broker.config.max_redeliveries == 0
    for body in bodies:
        broker.publish(destination, (("persistent", "true"),), body)
    session = broker.open_session(Sink(), "1.2")
    subscribe = (("id", "1"), ("destination", destination), ("ack", "client-individual"))
    sub = broker.subscribe(session, Frame("SUBSCRIBE", subscribe))
    for ack_id in list(sub.unacked):
        broker.nack(session, Frame("NACK", (("id", ack_id),)))
    broker.unsubscribe(session, Frame("UNSUBSCRIBE", (("id", "1"),)))
    broker.close_session(session)


def test_purge_frees_the_memory_of_what_it_drops() -> None:
    broker = Broker(BrokerConfig())
    admin = BrokerAdmin(broker)
    for body in (b"a" * 100, b"b" * 200):
        broker.publish("/queue/p", (), body)
    assert broker.memory.used > 300
    assert admin.purge("/queue/p") == 2
    assert broker.memory.used == 0
    assert admin.queue("/queue/p").messages == 0
    assert admin.queue("/queue/p").bytes == 0


def test_requeue_stops_at_a_full_queue_and_leaves_the_rest_in_order() -> None:
    broker = Broker(BrokerConfig(queue_max_messages=2, max_redeliveries=0))
    admin = BrokerAdmin(broker)
    dead_letter(broker, "/queue/w", b"w0", b"w1")
    broker.publish("/queue/w", (), b"already there")
    result = admin.requeue("/queue/DLQ.w")
    assert result.moved == 1
    assert result.stopped is not None and "/queue/w refused message" in result.stopped
    assert "queue full" in result.stopped
    assert [m.body for m in admin.browse("/queue/DLQ.w")] == ["w1"]  # still at the head
    assert [m.body for m in admin.browse("/queue/w")] == ["already there", "w0"]
    moved = admin.browse("/queue/w")[1]
    assert ("persistent", "true") in moved.headers
    assert not any(name == "original-destination" for name, _ in moved.headers)


def test_requeue_without_a_destination_stops_at_that_message() -> None:
    broker = Broker(BrokerConfig())
    admin = BrokerAdmin(broker)
    broker.publish("/queue/DLQ.x", (), b"sent here directly")  # no original-destination
    assert admin.requeue("/queue/DLQ.x") == RequeueResult(
        0,
        "message "
        + admin.browse("/queue/DLQ.x")[0].message_id
        + " has no original-destination header; give 'to' to move it",
    )
    assert admin.requeue("/queue/DLQ.x", to="/queue/x") == RequeueResult(1)
    assert [m.body for m in admin.browse("/queue/x")] == ["sent here directly"]


def test_requeue_moves_at_most_limit() -> None:
    broker = Broker(BrokerConfig(max_redeliveries=0))
    admin = BrokerAdmin(broker)
    dead_letter(broker, "/queue/w", b"0", b"1", b"2")
    assert admin.requeue("/queue/DLQ.w", limit=2) == RequeueResult(2)
    assert admin.queue("/queue/DLQ.w").messages == 1
    assert admin.queue("/queue/DLQ.w").dead_letter and not admin.queue("/queue/w").dead_letter
    with pytest.raises(AdminError, match="limit must be at least 1, not 0"):
        admin.requeue("/queue/DLQ.w", limit=0)


def test_unknown_queues_and_bad_limits_are_refused() -> None:
    admin = BrokerAdmin(Broker(BrokerConfig()))
    for action in (admin.queue, admin.browse, admin.purge, admin.requeue):
        with pytest.raises(NoSuchQueue, match="no queue /queue/none"):
            action("/queue/none")
    admin.broker.publish("/queue/a", (), b"x")
    for limit in (0, 501):
        with pytest.raises(AdminError, match="limit must be between 1 and 500"):
            admin.browse("/queue/a", limit)
    with pytest.raises(AdminError, match="'to' cannot hold wildcards"):
        admin.requeue("/queue/a", to="/topic/*")
