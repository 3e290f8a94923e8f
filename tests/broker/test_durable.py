"""Durable topic subscriptions in the broker: both header forms, messages kept while the
subscriber is away, removal, ownership, bounds, and the store (issue 17, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stompbox.broker import Broker, BrokerConfig, BrokerError
from stompbox.protocol import Frame

from .test_broker import Client

RABBIT = {"durable": "true", "auto_delete": "false"}


def client(broker: Broker, *, user: str | None = None, client_id: str | None = None) -> Client:
    c = Client(broker)
    c.session.user = user
    c.session.client_id = client_id
    return c


def amq(c: Client, destination: str, sub_id: str, name: str, ack: str = "auto") -> None:
    """SUBSCRIBE in ActiveMQ's form (a header name with a dot)."""
    headers = (
        ("destination", destination),
        ("id", sub_id),
        ("ack", ack),
        ("activemq.subscriptionName", name),
    )
    c.broker.subscribe(c.session, Frame("SUBSCRIBE", headers))


def unsubscribe(c: Client, sub_id: str, *headers: tuple[str, str]) -> None:
    c.broker.unsubscribe(c.session, Frame("UNSUBSCRIBE", (("id", sub_id), *headers)))


def test_rabbitmq_form_keeps_messages_while_away() -> None:
    broker = Broker()
    producer, sub = Client(broker), client(broker)
    sub.subscribe("/topic/news", "news", **RABBIT)
    producer.send("/topic/news", b"0")
    [live] = sub.received()
    assert live.get("destination") == "/topic/news"
    assert live.get("subscription") == "news"
    broker.close_session(sub.session)
    for i in range(1, 4):
        producer.send("/topic/news", str(i).encode())
    back = client(broker)
    back.subscribe("/topic/news", "news", **RABBIT)
    frames = back.received()
    assert [f.body for f in frames] == [b"1", b"2", b"3"]
    assert {f.get("destination") for f in frames} == {"/topic/news"}
    assert {f.get("subscription") for f in frames} == {"news"}


def test_a_durable_subscriber_gets_one_copy_not_two() -> None:
    broker = Broker()
    producer, sub, plain = Client(broker), client(broker), Client(broker)
    sub.subscribe("/topic/a/*", "d", **RABBIT)
    plain.subscribe("/topic/a/b", "p")
    producer.send("/topic/a/b", b"x")
    assert sub.bodies() == [b"x"]
    assert plain.bodies() == [b"x"]


def test_x_queue_name_names_it() -> None:
    broker = Broker()
    producer, sub = Client(broker), client(broker)
    sub.subscribe("/topic/t", "first-id", x_queue_name="mine", **RABBIT)
    broker.close_session(sub.session)
    producer.send("/topic/t", b"kept")
    back = client(broker)
    back.subscribe("/topic/t", "another-id", x_queue_name="mine", **RABBIT)
    [frame] = back.received()
    assert frame.body == b"kept" and frame.get("subscription") == "another-id"


def test_auto_delete_true_is_a_plain_subscription() -> None:
    broker = Broker()
    producer, sub = Client(broker), client(broker)
    sub.subscribe("/topic/t", "s", durable="true", auto_delete="true")
    assert broker.durable.bindings == {}
    broker.close_session(sub.session)
    producer.send("/topic/t", b"lost")
    back = client(broker)
    back.subscribe("/topic/t", "s", **RABBIT)
    assert back.bodies() == []


def test_activemq_form_needs_a_client_id() -> None:
    broker = Broker()
    anonymous = client(broker)
    with pytest.raises(BrokerError, match="client-id"):
        amq(anonymous, "/topic/t", "s", "sub")


def test_activemq_form_is_keyed_by_client_id_and_name() -> None:
    broker = Broker()
    producer = Client(broker)
    sub = client(broker, client_id="app-1")
    amq(sub, "/topic/t", "1", "s", "client-individual")
    broker.close_session(sub.session)
    producer.send("/topic/t", b"a")
    producer.send("/topic/t", b"b")
    other = client(broker, client_id="app-2")
    amq(other, "/topic/t", "1", "s")
    assert other.bodies() == []
    back = client(broker, client_id="app-1")
    amq(back, "/topic/t", "9", "s", "client-individual")
    first, second = back.received()
    assert (first.body, second.body) == (b"a", b"b")
    back.ack(first.get("ack") or "")
    broker.close_session(back.session)  # b was not acked: it comes back, redelivered
    again = client(broker, client_id="app-1")
    amq(again, "/topic/t", "9", "s")
    [redelivered] = again.received()
    assert redelivered.body == b"b" and redelivered.get("redelivered") == "true"


def test_one_subscriber_at_a_time() -> None:
    broker = Broker()
    one, two = client(broker, client_id="c"), client(broker, client_id="c")
    amq(one, "/topic/t", "1", "s")
    with pytest.raises(BrokerError, match="in use"):
        amq(two, "/topic/t", "1", "s")


def test_another_user_cannot_take_it_over() -> None:
    broker = Broker()
    producer = Client(broker)
    alice = client(broker, user="alice")
    alice.subscribe("/topic/t", "s", **RABBIT)
    broker.close_session(alice.session)
    producer.send("/topic/t", b"for alice")
    mallory = client(broker, user="mallory")
    mallory.subscribe("/topic/t", "s", **RABBIT)
    assert mallory.bodies() == []
    unsubscribe(mallory, "s", ("durable", "true"))  # removes only mallory's own
    back = client(broker, user="alice")
    back.subscribe("/topic/t", "s", **RABBIT)
    assert back.bodies() == [b"for alice"]


def test_plain_unsubscribe_keeps_it_durable_unsubscribe_removes_it() -> None:
    broker = Broker()
    producer, sub = Client(broker), client(broker)
    sub.subscribe("/topic/t", "s", **RABBIT)
    unsubscribe(sub, "s")
    producer.send("/topic/t", b"kept")
    sub.subscribe("/topic/t", "s", **RABBIT)
    assert sub.bodies() == [b"kept"]
    unsubscribe(sub, "s", ("durable", "true"))
    assert broker.durable.bindings == {}
    producer.send("/topic/t", b"gone")
    sub.subscribe("/topic/t", "s", **RABBIT)
    assert sub.bodies() == []


def test_removal_while_away_drops_its_messages_and_memory() -> None:
    broker = Broker()
    producer, sub = Client(broker), client(broker, client_id="c")
    amq(sub, "/topic/t", "s", "n")
    unsubscribe(sub, "s")
    used = broker.memory.used
    producer.send("/topic/t", b"x" * 1000)
    assert broker.memory.used > used
    unsubscribe(sub, "s", ("activemq.subscriptionName", "n"))
    assert broker.memory.used == used
    assert broker.durable.bindings == {} and broker.queue_depths() == {}
    with pytest.raises(BrokerError, match="unknown subscription"):
        unsubscribe(sub, "s", ("activemq.subscriptionName", "n"))


def test_a_full_queue_drops_the_newest_and_the_publisher_is_not_refused() -> None:
    broker = Broker(BrokerConfig(queue_max_messages=2))
    producer, sub = Client(broker), client(broker)
    sub.subscribe("/topic/t", "s", **RABBIT)
    broker.close_session(sub.session)
    for i in range(5):
        producer.send("/topic/t", str(i).encode())
    assert broker.stats.dropped_durable == 3
    back = client(broker)
    back.subscribe("/topic/t", "s", **RABBIT)
    assert back.bodies() == [b"0", b"1"]


def test_backing_queues_cannot_be_used_directly() -> None:
    broker = Broker()
    sub, intruder = client(broker), Client(broker)
    sub.subscribe("/topic/t", "s", **RABBIT)
    [queue] = broker.durable.queues
    assert queue.startswith("/queue/stompbox.durable.")
    with pytest.raises(BrokerError, match="access denied"):
        intruder.send(queue, b"x")
    with pytest.raises(BrokerError, match="access denied"):
        intruder.subscribe(queue, "q")
    with pytest.raises(BrokerError, match="access denied"):
        intruder.subscribe("/queue/stompbox.durable.guess", "g")


def test_max_durable_subscriptions() -> None:
    broker = Broker(BrokerConfig(max_durable_subscriptions=1))
    sub = client(broker)
    sub.subscribe("/topic/t", "a", **RABBIT)
    with pytest.raises(BrokerError, match="max_durable_subscriptions limit of 1 exceeded"):
        sub.subscribe("/topic/t", "b", **RABBIT)
    with pytest.raises(ValueError, match="max_durable_subscriptions"):
        BrokerConfig(max_durable_subscriptions=0)


def test_max_durable_subscriptions_per_user() -> None:
    broker = Broker(BrokerConfig(max_durable_subscriptions_per_user=2))
    alice = client(broker, user="alice")
    alice.subscribe("/topic/t", "a", **RABBIT)
    alice.subscribe("/topic/t", "b", **RABBIT)
    with pytest.raises(BrokerError, match="per_user limit of 2 exceeded") as info:
        alice.subscribe("/topic/t", "c", **RABBIT)
    assert "user 'alice' already own 2" in info.value.detail
    bob = client(broker, user="bob")  # another user's are still to be had
    bob.subscribe("/topic/t", "a", **RABBIT)
    again = client(broker, user="alice")  # alice's own, from another connection, count too
    with pytest.raises(BrokerError, match="per_user limit of 2 exceeded"):
        again.subscribe("/topic/t", "d", **RABBIT)
    unsubscribe(alice, "a")  # away, not removed
    again.subscribe("/topic/t", "a", **RABBIT)  # coming back to one she owns makes none
    unsubscribe(alice, "b", ("durable", "true"))
    again.subscribe("/topic/t", "c", **RABBIT)  # one removed: room for one
    anonymous = client(broker)
    anonymous.subscribe("/topic/t", "x", **RABBIT)
    anonymous.subscribe("/topic/t", "y", **RABBIT)
    with pytest.raises(BrokerError) as info:
        client(broker).subscribe("/topic/t", "z", **RABBIT)
    assert "anonymous clients already own 2" in info.value.detail
    with pytest.raises(ValueError, match="max_durable_subscriptions_per_user"):
        BrokerConfig(max_durable_subscriptions_per_user=0)


def test_a_restart_restores_what_a_lowered_per_user_limit_would_refuse(tmp_path: Path) -> None:
    store = str(tmp_path / "store.db")
    broker = Broker(BrokerConfig(store=store))
    alice = client(broker, user="alice")
    for name in "abc":
        alice.subscribe("/topic/t", name, **RABBIT)
    broker.close()
    broker = Broker(BrokerConfig(store=store, max_durable_subscriptions_per_user=1))
    assert len(broker.durable.bindings) == 3
    with pytest.raises(BrokerError, match="per_user limit of 1 exceeded"):
        client(broker, user="alice").subscribe("/topic/t", "d", **RABBIT)
    broker.close()


def test_a_new_topic_makes_it_anew() -> None:
    broker = Broker()
    producer, sub = Client(broker), client(broker)
    sub.subscribe("/topic/a", "s", **RABBIT)
    unsubscribe(sub, "s")
    producer.send("/topic/a", b"old")
    sub.subscribe("/topic/b", "s", **RABBIT)
    producer.send("/topic/b", b"new")
    assert sub.bodies() == [b"new"]
    assert len(broker.durable.bindings) == 1


def test_bindings_and_persistent_messages_survive_a_restart(tmp_path: Path) -> None:
    config = BrokerConfig(store=str(tmp_path / "store.db"))
    broker = Broker(config)
    producer, sub = Client(broker), client(broker, client_id="c")
    amq(sub, "/topic/t", "s", "n")
    broker.close_session(sub.session)
    producer.send("/topic/t", b"kept", ("persistent", "true"), ("x-a", "1"))
    producer.send("/topic/t", b"transient")
    broker.close()

    broker = Broker(config)
    producer = Client(broker)
    producer.send("/topic/t", b"after")  # the binding is back: this is kept too
    back = client(broker, client_id="c")
    amq(back, "/topic/t", "s", "n")
    first, second = back.received()
    assert (first.body, second.body) == (b"kept", b"after")
    assert first.get("destination") == "/topic/t" and first.get("x-a") == "1"
    assert [name for name, _ in first.headers].count("destination") == 1
    unsubscribe(back, "s", ("activemq.subscriptionName", "n"))
    broker.close()

    broker = Broker(config)
    assert broker.durable.bindings == {}
    assert broker.store is not None and len(broker.store) == 0
    broker.close()


def test_a_refused_subscribe_makes_no_durable_subscription() -> None:
    broker = Broker()
    sub = client(broker)
    for bad in ({"prefetch_count": "many"}, {"x_priority": "high"}, {"resume_from": "1"}):
        with pytest.raises(BrokerError):
            sub.subscribe("/topic/t", "s", **RABBIT, **bad)
    assert broker.durable.bindings == {}
