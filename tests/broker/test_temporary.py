"""Temporary queues in the broker: private names, reply-to rewriting, the implicit
subscription, the bound, and deletion with the session (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stompbox.broker import Broker, BrokerConfig, BrokerError
from stompbox.broker.memory import MESSAGE_OVERHEAD
from stompbox.protocol import Frame

from .test_broker import Client


def test_reply_to_is_rewritten_and_the_sender_subscribed() -> None:
    broker = Broker()
    responder, requester = Client(broker), Client(broker)
    responder.subscribe("/queue/rpc")
    requester.send("/queue/rpc", b"ping", ("reply-to", "/temp-queue/answers"))
    [request] = responder.received()
    reply_to = request.get("reply-to") or ""
    assert reply_to.startswith("/queue/stompbox.temp.")
    assert reply_to.endswith(".answers")
    assert requester.session.id not in reply_to  # opaque: nothing of the session shows
    responder.send(reply_to, b"pong")
    [reply] = requester.received()
    assert reply.body == b"pong"
    assert reply.get("subscription") == "/temp-queue/answers"  # RabbitMQ's subscription id
    assert reply.get("destination") == "/temp-queue/answers"


def test_a_second_request_reuses_the_queue_and_the_subscription() -> None:
    broker = Broker()
    responder, requester = Client(broker), Client(broker)
    responder.subscribe("/queue/rpc")
    for _ in range(2):
        requester.send("/queue/rpc", b"ping", ("reply-to", "/temp-queue/a"))
    first, second = responder.received()
    assert first.get("reply-to") == second.get("reply-to")
    assert list(requester.session.subscriptions) == ["/temp-queue/a"]


def test_each_session_has_its_own_queue_of_a_name() -> None:
    broker = Broker()
    responder, one, two = Client(broker), Client(broker), Client(broker)
    responder.subscribe("/queue/rpc")
    one.send("/queue/rpc", b"1", ("reply-to", "/temp-queue/r"))
    two.send("/queue/rpc", b"2", ("reply-to", "/temp-queue/r"))
    a, b = responder.received()
    assert a.get("reply-to") != b.get("reply-to")
    responder.send(b.get("reply-to") or "", b"for two")
    assert one.bodies() == []
    assert two.bodies() == [b"for two"]


def test_an_explicit_subscription_takes_the_replies() -> None:
    """ActiveMQ's way: SUBSCRIBE to /temp-queue/x first; no second subscription is made."""
    broker = Broker()
    responder, requester = Client(broker), Client(broker)
    responder.subscribe("/queue/rpc")
    requester.subscribe("/temp-queue/x", "mine")
    requester.send("/queue/rpc", b"ping", ("reply-to", "/temp-queue/x"))
    [request] = responder.received()
    responder.send(request.get("reply-to") or "", b"pong")
    [reply] = requester.received()
    assert reply.get("subscription") == "mine"
    assert list(requester.session.subscriptions) == ["mine"]


def test_another_session_cannot_subscribe_to_the_generated_name() -> None:
    broker = Broker()
    responder, requester = Client(broker), Client(broker)
    responder.subscribe("/queue/rpc")
    requester.send("/queue/rpc", b"ping", ("reply-to", "/temp-queue/x"))
    [request] = responder.received()
    with pytest.raises(BrokerError, match="access denied"):
        responder.subscribe(request.get("reply-to") or "", "steal")


def test_the_queue_goes_with_its_session_and_its_messages_are_dropped() -> None:
    broker = Broker()
    before = broker.memory.used
    responder, requester = Client(broker), Client(broker)
    requester.subscribe("/temp-queue/x", "s", ack="client-individual", prefetch_count="1")
    requester.send("/queue/rpc", b"ping", ("reply-to", "/temp-queue/x"))
    queue = broker.temporary.queue_of(requester.session, "/temp-queue/x")
    for i in range(3):
        responder.send(queue, b"reply %d" % i)
    assert len(requester.received()) == 1  # one unacked, two waiting
    assert broker.queue_depth(queue) == 2
    broker.close_session(requester.session)
    assert queue not in broker.queue_depths()
    assert not broker.temporary.holds(queue)
    assert broker.stats.dropped_temporary == 3
    broker.close_session(responder.session)
    assert broker.queue_depths() == {"/queue/rpc": (1, 4, 0)}  # the request still waits
    assert broker.memory.used - before == len(b"ping") + MESSAGE_OVERHEAD


def test_memory_of_dropped_messages_is_released() -> None:
    broker = Broker()
    before = broker.memory.used
    responder, requester = Client(broker), Client(broker)
    queue = broker.temporary.queue_of(requester.session, "/temp-queue/x")
    for _ in range(5):
        responder.send(queue, b"x" * 1000)
    assert broker.memory.used > before + 5000
    broker.close_session(requester.session)
    assert broker.memory.used == before


def test_the_number_of_temporary_queues_is_bounded() -> None:
    broker = Broker(BrokerConfig(max_temp_queues_per_session=2))
    client = Client(broker)
    client.subscribe("/temp-queue/a", "a")
    client.send("/queue/x", b"", ("reply-to", "/temp-queue/b"))
    client.send("/queue/x", b"", ("reply-to", "/temp-queue/a"))  # not a new one
    with pytest.raises(BrokerError, match="max_temp_queues_per_session limit of 2"):
        client.send("/queue/x", b"", ("reply-to", "/temp-queue/c"))
    other = Client(broker)  # the bound is per session
    other.subscribe("/temp-queue/c", "c")


def test_a_nameless_temporary_queue_is_refused() -> None:
    client = Client(Broker())
    with pytest.raises(BrokerError, match="names no queue"):
        client.subscribe("/temp-queue/")


def test_the_limit_is_validated() -> None:
    with pytest.raises(ValueError, match="max_temp_queues_per_session"):
        BrokerConfig(max_temp_queues_per_session=0)


def test_send_to_its_own_temporary_queue() -> None:
    broker = Broker()
    client = Client(broker)
    client.subscribe("/temp-queue/self", "s")
    client.send("/temp-queue/self", b"note")
    assert client.bodies() == [b"note"]


def test_replies_are_not_persisted(tmp_path: Path) -> None:
    broker = Broker(BrokerConfig(store=str(tmp_path / "store.db")))
    responder, requester = Client(broker), Client(broker)
    queue = broker.temporary.queue_of(requester.session, "/temp-queue/x")
    responder.send(queue, b"reply", ("persistent", "true"))
    broker.sync()
    broker.close_session(requester.session)
    broker.close()
    again = Broker(BrokerConfig(store=str(tmp_path / "store.db")))
    assert again.queue_depths() == {}
    again.close()


def test_a_reply_to_in_a_transaction_is_rewritten_at_commit() -> None:
    broker = Broker()
    responder, requester = Client(broker), Client(broker)
    responder.subscribe("/queue/rpc")
    broker.begin(requester.session, Frame("BEGIN", (("transaction", "t"),)))
    requester.send("/queue/rpc", b"ping", ("reply-to", "/temp-queue/x"), ("transaction", "t"))
    assert responder.received() == []
    broker.commit(requester.session, Frame("COMMIT", (("transaction", "t"),)))
    [request] = responder.received()
    assert (request.get("reply-to") or "").startswith("/queue/stompbox.temp.")


def test_a_reply_after_the_requester_left_is_dropped() -> None:
    broker = Broker()
    before = broker.memory.used
    responder, requester = Client(broker), Client(broker)
    queue = broker.temporary.queue_of(requester.session, "/temp-queue/x")
    broker.close_session(requester.session)
    responder.send(queue, b"too late")  # no ERROR for the responder
    assert broker.queue_depths() == {}
    assert broker.stats.dropped_temporary == 1
    assert broker.memory.used == before
    with pytest.raises(BrokerError, match="access denied"):
        responder.subscribe(queue)  # nobody may take the name over


def test_a_nacked_reply_is_dropped_not_dead_lettered() -> None:
    broker = Broker(BrokerConfig(max_redeliveries=0))
    responder, requester = Client(broker), Client(broker)
    requester.subscribe("/temp-queue/x", "s", ack="client-individual")
    queue = broker.temporary.queue_of(requester.session, "/temp-queue/x")
    responder.send(queue, b"reply")
    [reply] = requester.received()
    broker.nack(requester.session, Frame("NACK", (("id", reply.get("ack") or ""),)))
    assert broker.queue_depths() == {queue: (0, 0, 1)}  # no /queue/DLQ.stompbox.temp...
    assert broker.stats.dropped_temporary == 1


def test_stomp10_unsubscribes_by_the_temporary_name() -> None:
    broker = Broker()
    client = Client(broker, "1.0")
    broker.subscribe(client.session, Frame("SUBSCRIBE", (("destination", "/temp-queue/x"),)))
    broker.unsubscribe(client.session, Frame("UNSUBSCRIBE", (("destination", "/temp-queue/x"),)))
    assert client.session.subscriptions == {}
