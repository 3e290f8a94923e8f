"""The broker's rules, driven synchronously: no sockets, no event loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from stompbox.broker import (
    Broker,
    BrokerConfig,
    BrokerError,
    DestinationKind,
    Session,
    SlowConsumerPolicy,
)
from stompbox.protocol import Frame, FrameParser, ServerConnection


class RecordingSink:
    """Stands in for the server's session: frames deliveries with a real, connected
    :class:`ServerConnection` and remembers what else the broker asked of it."""

    def __init__(self, version: str, output_limit: int | None = None) -> None:
        self.paused = False
        self.failed: list[tuple[str, str]] = []
        self.conn = ServerConnection(output_limit=output_limit)
        self.conn.receive_data(f"CONNECT\naccept-version:{version}\nhost:x\n\n\0".encode())
        [connect] = self.conn.events()
        assert isinstance(connect, Frame) and connect.command == "CONNECT"
        self.conn.accept()
        self.conn.data_to_send()
        self.connection = self.conn

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def fail(self, message: str, detail: str) -> None:
        self.failed.append((message, detail))


class Client:
    def __init__(
        self, broker: Broker, version: str = "1.2", output_limit: int | None = None
    ) -> None:
        self.broker = broker
        self.sink = RecordingSink(version, output_limit)
        self.session: Session = broker.open_session(self.sink, version)
        self.parser = FrameParser(version)
        self.socket_full = False

    def set_writable(self, writable: bool) -> None:
        """What the server does when the socket's buffer fills up or drains."""
        self.socket_full = not writable
        self.broker.set_writable(self.session, writable)

    def received(self) -> list[Frame]:
        """What the client would read, as a write to its socket would hand it over."""
        data = self.sink.conn.data_to_send()
        self.broker.output_written(self.session, not self.socket_full)
        self.parser.feed(data)
        return self.parser.frames()

    def bodies(self) -> list[bytes]:
        return [f.body for f in self.received()]

    def send(self, destination: str, body: bytes = b"x", *headers: tuple[str, str]) -> None:
        self.broker.send(
            self.session, Frame("SEND", (("destination", destination), *headers), body)
        )

    def subscribe(
        self, destination: str, sub_id: str = "0", ack: str = "auto", **extra: str
    ) -> None:
        headers = [("destination", destination), ("id", sub_id), ("ack", ack)]
        headers += [(k.replace("_", "-"), v) for k, v in extra.items()]
        self.broker.subscribe(self.session, Frame("SUBSCRIBE", tuple(headers)))

    def ack(self, ack_id: str, command: str = "ACK", *headers: tuple[str, str]) -> None:
        frame = Frame(command, (("id", ack_id), *headers))
        (self.broker.ack if command == "ACK" else self.broker.nack)(self.session, frame)


@pytest.fixture
def broker() -> Broker:
    return Broker()


class TestTopics:
    def test_every_subscriber_gets_a_copy(self, broker: Broker) -> None:
        a, b, producer = Client(broker), Client(broker), Client(broker)
        a.subscribe("/topic/news")
        b.subscribe("/topic/news", "sub-b")
        producer.send("/topic/news", b"hi", ("content-type", "text/plain"), ("x-custom", "1"))
        [ma] = a.received()
        [mb] = b.received()
        assert ma.body == mb.body == b"hi"
        assert ma.get("subscription") == "0" and mb.get("subscription") == "sub-b"
        assert ma.get("destination") == "/topic/news"
        assert ma.get("content-type") == "text/plain"
        assert ma.get("x-custom") == "1"
        assert ma.get("content-length") == "2"
        assert ma.get("message-id") == mb.get("message-id")
        assert ma.get("ack") is None  # auto subscriptions carry no ack header

    def test_no_subscriber_no_message(self, broker: Broker) -> None:
        a, producer = Client(broker), Client(broker)
        a.subscribe("/topic/a")
        producer.send("/topic/b")
        assert a.received() == []

    def test_message_ids_are_unique(self, broker: Broker) -> None:
        a, producer = Client(broker), Client(broker)
        a.subscribe("/topic/a")
        for _ in range(50):
            producer.send("/topic/a")
        ids = [f.get("message-id") for f in a.received()]
        assert len(set(ids)) == 50

    def test_broker_headers_from_the_sender_are_not_forwarded(self, broker: Broker) -> None:
        a, producer = Client(broker), Client(broker)
        a.subscribe("/topic/a")
        producer.send("/topic/a", b"x", ("message-id", "fake"), ("redelivered", "true"))
        [m] = a.received()
        assert m.get("message-id") != "fake"
        assert m.get("redelivered") is None

    @pytest.mark.parametrize(
        ("pattern", "matches", "misses"),
        [
            ("/topic/a/*", ["/topic/a/b"], ["/topic/a", "/topic/a/b/c", "/topic/b/c"]),
            ("/topic/a/**", ["/topic/a", "/topic/a/b", "/topic/a/b/c"], ["/topic/b"]),
            ("/topic/a/#", ["/topic/a", "/topic/a/b/c"], ["/topic/ab"]),
            ("/topic/*/c", ["/topic/a/c", "/topic/b/c"], ["/topic/a/b/c"]),
            ("/topic/**/c", ["/topic/c", "/topic/a/b/c"], ["/topic/a/b"]),
        ],
    )
    def test_wildcards_with_slash(
        self, broker: Broker, pattern: str, matches: list[str], misses: list[str]
    ) -> None:
        sub, producer = Client(broker), Client(broker)
        sub.subscribe(pattern)
        for destination in matches + misses:
            producer.send(destination, destination.encode())
        assert sub.bodies() == [d.encode() for d in matches]

    def test_wildcards_with_dot_separator(self) -> None:
        broker = Broker(BrokerConfig(separator="."))
        sub, all_, producer = Client(broker), Client(broker), Client(broker)
        sub.subscribe("/topic/price.stock.*")
        all_.subscribe("/topic/price.#", "1")
        for destination in ("/topic/price.stock.ibm", "/topic/price.bond.x", "/topic/price.stock"):
            producer.send(destination, destination.encode())
        assert sub.bodies() == [b"/topic/price.stock.ibm"]
        assert all_.bodies() == [
            b"/topic/price.stock.ibm",
            b"/topic/price.bond.x",
            b"/topic/price.stock",
        ]

    def test_overlapping_patterns_deliver_once_per_subscription(self, broker: Broker) -> None:
        sub, producer = Client(broker), Client(broker)
        sub.subscribe("/topic/a/**")
        producer.send("/topic/a/b")
        assert len(sub.received()) == 1

    def test_unsubscribe_stops_delivery(self, broker: Broker) -> None:
        sub, producer = Client(broker), Client(broker)
        sub.subscribe("/topic/a/*")
        broker.unsubscribe(sub.session, Frame("UNSUBSCRIBE", (("id", "0"),)))
        producer.send("/topic/a/b")
        assert sub.received() == []

    def test_send_to_a_wildcard_is_refused(self, broker: Broker) -> None:
        with pytest.raises(BrokerError, match="wildcards"):
            Client(broker).send("/topic/a/*")


class TestQueues:
    def test_round_robin_among_consumers(self, broker: Broker) -> None:
        a, b, producer = Client(broker), Client(broker), Client(broker)
        a.subscribe("/queue/work")
        b.subscribe("/queue/work")
        for i in range(6):
            producer.send("/queue/work", str(i).encode())
        assert a.bodies() == [b"0", b"2", b"4"]
        assert b.bodies() == [b"1", b"3", b"5"]

    def test_messages_wait_for_a_consumer(self, broker: Broker) -> None:
        producer = Client(broker)
        for i in range(3):
            producer.send("/queue/later", str(i).encode())
        assert broker.queue_depth("/queue/later") == 3
        consumer = Client(broker)
        consumer.subscribe("/queue/later")
        assert consumer.bodies() == [b"0", b"1", b"2"]
        assert broker.queue_depth("/queue/later") == 0

    def test_full_queue_refuses_with_error(self) -> None:
        broker = Broker(BrokerConfig(queue_max_messages=2))
        producer = Client(broker)
        producer.send("/queue/q")
        producer.send("/queue/q")
        with pytest.raises(BrokerError, match="queue full") as info:
            producer.send("/queue/q")
        assert "queue_max_messages=2" in info.value.detail
        assert broker.queue_depth("/queue/q") == 2

    def test_byte_limit(self) -> None:
        broker = Broker(BrokerConfig(queue_max_bytes=10))
        producer = Client(broker)
        producer.send("/queue/q", b"x" * 10)
        with pytest.raises(BrokerError, match="queue full"):
            producer.send("/queue/q", b"y")

    def test_wildcard_subscription_to_queue_is_refused(self, broker: Broker) -> None:
        with pytest.raises(BrokerError, match="topics only"):
            Client(broker).subscribe("/queue/*")

    def test_prefetch_bounds_unacked(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client-individual", prefetch_count="2")
        for i in range(5):
            producer.send("/queue/q", str(i).encode())
        first = consumer.received()
        assert [f.body for f in first] == [b"0", b"1"]
        consumer.ack(first[0].get("ack") or "")
        assert consumer.bodies() == [b"2"]
        assert broker.queue_depth("/queue/q") == 2

    def test_busy_consumers_push_back_on_producers(self) -> None:
        broker = Broker(BrokerConfig(queue_high_water=4))
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client-individual", prefetch_count="1")
        for i in range(5):
            producer.send("/queue/q", str(i).encode())
        assert producer.sink.paused
        assert broker.stats.producers_paused == 1
        for _ in range(3):
            [m] = consumer.received()
            consumer.ack(m.get("ack") or "")
        assert not producer.sink.paused  # backlog fell under half the high-water mark

    def test_paused_producers_resume_when_the_last_consumer_leaves(self) -> None:
        broker = Broker(BrokerConfig(queue_high_water=2))
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client-individual", prefetch_count="1")
        for _ in range(3):
            producer.send("/queue/q")
        assert producer.sink.paused
        broker.close_session(consumer.session)
        assert not producer.sink.paused


class TestAcks:
    def test_ack_header_and_client_individual(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client-individual")
        producer.send("/queue/q", b"1")
        producer.send("/queue/q", b"2")
        m1, m2 = consumer.received()
        assert m1.get("ack") and m1.get("ack") != m2.get("ack")
        consumer.ack(m2.get("ack") or "")
        broker.close_session(consumer.session)
        again = Client(broker)
        again.subscribe("/queue/q")
        [back] = again.received()
        assert back.body == b"1"
        assert back.get("redelivered") == "true"
        assert back.get("redelivery-count") == "1"

    def test_client_mode_is_cumulative(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client")
        for i in range(3):
            producer.send("/queue/q", str(i).encode())
        messages = consumer.received()
        consumer.ack(messages[1].get("ack") or "")
        broker.close_session(consumer.session)
        again = Client(broker)
        again.subscribe("/queue/q")
        assert again.bodies() == [b"2"]

    def test_nack_redelivers_at_head_with_count(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client-individual", prefetch_count="1")
        producer.send("/queue/q", b"a")
        producer.send("/queue/q", b"b")
        [m] = consumer.received()
        consumer.ack(m.get("ack") or "", "NACK")
        [again] = consumer.received()
        assert again.body == b"a"
        assert again.get("redelivered") == "true"
        assert again.get("redelivery-count") == "1"

    def test_nack_in_client_mode_is_individual(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client")
        producer.send("/queue/q", b"a")
        producer.send("/queue/q", b"b")
        a, b = consumer.received()
        consumer.ack(b.get("ack") or "", "NACK")
        assert [f.body for f in consumer.received()] == [b"b"]
        consumer.ack(a.get("ack") or "")  # a is still unacked, and can be acked

    def test_poison_message_goes_to_dead_letter_queue(self) -> None:
        broker = Broker(BrokerConfig(max_redeliveries=2))
        consumer, producer, dlq = Client(broker), Client(broker), Client(broker)
        dlq.subscribe("/queue/DLQ.orders")
        consumer.subscribe("/queue/orders", ack="client-individual")
        producer.send("/queue/orders", b"poison", ("content-type", "text/plain"))
        for _ in range(3):
            [m] = consumer.received()
            consumer.ack(m.get("ack") or "", "NACK")
        assert consumer.received() == []
        [dead] = dlq.received()
        assert dead.body == b"poison"
        assert dead.get("original-destination") == "/queue/orders"
        assert dead.get("content-type") == "text/plain"
        assert broker.stats.dead_lettered == 1

    def test_nack_with_requeue_false_dead_letters_at_once(self, broker: Broker) -> None:
        consumer, producer, dlq = Client(broker), Client(broker), Client(broker)
        dlq.subscribe("/queue/DLQ.jobs")
        consumer.subscribe("/queue/jobs", ack="client-individual")
        producer.send("/queue/jobs", b"bad")
        [m] = consumer.received()
        consumer.ack(m.get("ack") or "", "NACK", ("requeue", "false"))
        assert consumer.received() == []
        assert [f.body for f in dlq.received()] == [b"bad"]

    def test_unknown_ack_id_is_an_error(self, broker: Broker) -> None:
        consumer = Client(broker)
        consumer.subscribe("/queue/q", ack="client")
        with pytest.raises(BrokerError, match="unknown ACK id"):
            consumer.ack("nope")

    def test_1_1_acks_by_message_id_and_subscription(self, broker: Broker) -> None:
        consumer, producer = Client(broker, "1.1"), Client(broker)
        consumer.subscribe("/queue/q", "s1", ack="client-individual")
        producer.send("/queue/q", b"a")
        [m] = consumer.received()
        assert m.get("ack") is None
        frame = Frame("ACK", (("message-id", m.get("message-id") or ""), ("subscription", "s1")))
        broker.ack(consumer.session, frame)
        broker.close_session(consumer.session)
        assert broker.queue_depth("/queue/q") == 0

    def test_1_0_acks_by_message_id(self, broker: Broker) -> None:
        consumer, producer = Client(broker, "1.0"), Client(broker)
        broker.subscribe(
            consumer.session, Frame("SUBSCRIBE", (("destination", "/queue/q"), ("ack", "client")))
        )
        producer.send("/queue/q", b"a")
        [m] = consumer.received()
        assert m.get("subscription") == "/queue/q"
        broker.ack(consumer.session, Frame("ACK", (("message-id", m.get("message-id") or ""),)))
        broker.close_session(consumer.session)
        assert broker.queue_depth("/queue/q") == 0

    def test_1_0_unsubscribe_by_destination(self, broker: Broker) -> None:
        client, producer = Client(broker, "1.0"), Client(broker)
        client.subscribe("/topic/a", "with-an-id")
        broker.unsubscribe(client.session, Frame("UNSUBSCRIBE", (("destination", "/topic/a"),)))
        producer.send("/topic/a")
        assert client.received() == []

    def test_unacked_topic_messages_are_dropped_on_disconnect(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/topic/t", ack="client")
        producer.send("/topic/t")
        broker.close_session(consumer.session)
        assert broker.stats.redelivered == 0

    def test_unsubscribe_then_ack_takes_exactly_what_was_processed(self, broker: Broker) -> None:
        """The ACK of the last wanted message, sent after UNSUBSCRIBE, refills nothing."""
        consumer, producer = Client(broker), Client(broker)
        for i in range(3):
            producer.send("/queue/q", str(i).encode())
        consumer.subscribe("/queue/q", ack="client-individual", prefetch_count="1")
        [first] = consumer.received()
        broker.unsubscribe(consumer.session, Frame("UNSUBSCRIBE", (("id", "0"),)))
        consumer.ack(first.get("ack") or "")
        assert consumer.received() == []
        assert broker.queue_depth("/queue/q") == 2
        broker.close_session(consumer.session)
        rest = Client(broker)
        rest.subscribe("/queue/q")
        assert [(m.body, m.get("redelivered")) for m in rest.received()] == [
            (b"1", None),
            (b"2", None),
        ]
        assert broker.stats.redelivered == 0

    def test_unsubscribed_messages_nacked_or_left_go_back(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        producer.send("/queue/q", b"a")
        producer.send("/queue/q", b"b")
        consumer.subscribe("/queue/q", ack="client-individual", prefetch_count="2")
        a, _b = consumer.received()
        broker.unsubscribe(consumer.session, Frame("UNSUBSCRIBE", (("id", "0"),)))
        assert broker.queue_depth("/queue/q") == 0  # and the queue itself is forgotten
        consumer.ack(a.get("ack") or "", "NACK")
        other = Client(broker)
        other.subscribe("/queue/q")
        [back] = other.received()
        assert (back.body, back.get("redelivered")) == (b"a", "true")
        broker.close_session(consumer.session)  # b was never settled: it goes back too
        [left] = other.received()
        assert (left.body, left.get("redelivered")) == (b"b", "true")

    def test_unsubscribed_messages_kept_are_bounded(self) -> None:
        broker = Broker(BrokerConfig(max_subscriptions=1))
        consumer, producer = Client(broker), Client(broker)
        producer.send("/queue/q", b"a")
        producer.send("/queue/q", b"b")
        for sub_id in ("1", "2"):
            consumer.subscribe("/queue/q", sub_id, ack="client", prefetch_count="1")
            consumer.received()
            broker.unsubscribe(consumer.session, Frame("UNSUBSCRIBE", (("id", sub_id),)))
        # only the latest ended subscription keeps its message: the first's went back
        assert broker.queue_depth("/queue/q") == 1
        assert len(consumer.session.unsubscribed) == 1


class TestTransactions:
    def test_sends_take_effect_on_commit(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q")
        broker.begin(producer.session, Frame("BEGIN", (("transaction", "t1"),)))
        producer.send("/queue/q", b"1", ("transaction", "t1"))
        assert consumer.received() == []
        broker.commit(producer.session, Frame("COMMIT", (("transaction", "t1"),)))
        assert consumer.bodies() == [b"1"]

    def test_abort_discards(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q")
        broker.begin(producer.session, Frame("BEGIN", (("transaction", "t1"),)))
        producer.send("/queue/q", b"1", ("transaction", "t1"))
        broker.abort(producer.session, Frame("ABORT", (("transaction", "t1"),)))
        assert consumer.received() == []
        assert broker.queue_depth("/queue/q") == 0

    def test_acks_in_a_transaction(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q", ack="client-individual")
        producer.send("/queue/q", b"1")
        [m] = consumer.received()
        broker.begin(consumer.session, Frame("BEGIN", (("transaction", "t"),)))
        consumer.ack(m.get("ack") or "", "ACK", ("transaction", "t"))
        broker.abort(consumer.session, Frame("ABORT", (("transaction", "t"),)))
        broker.close_session(consumer.session)
        assert broker.queue_depth("/queue/q") == 1  # the ACK was aborted

    @pytest.mark.parametrize("command", ["COMMIT", "ABORT"])
    def test_unknown_transaction(self, broker: Broker, command: str) -> None:
        client = Client(broker)
        with pytest.raises(BrokerError, match="unknown transaction"):
            getattr(broker, command.lower())(
                client.session, Frame(command, (("transaction", "x"),))
            )
        with pytest.raises(BrokerError, match="unknown transaction"):
            client.send("/queue/q", b"", ("transaction", "x"))

    def test_bad_destination_is_refused_at_send_not_at_commit(self, broker: Broker) -> None:
        client = Client(broker)
        broker.begin(client.session, Frame("BEGIN", (("transaction", "t"),)))
        with pytest.raises(BrokerError, match="unknown destination"):
            client.send("/nowhere/x", b"", ("transaction", "t"))

    def test_reused_transaction_id(self, broker: Broker) -> None:
        client = Client(broker)
        broker.begin(client.session, Frame("BEGIN", (("transaction", "t"),)))
        with pytest.raises(BrokerError, match="already open"):
            broker.begin(client.session, Frame("BEGIN", (("transaction", "t"),)))

    def test_transaction_limits(self) -> None:
        broker = Broker(BrokerConfig(max_transactions=1, max_transaction_frames=2))
        client = Client(broker)
        broker.begin(client.session, Frame("BEGIN", (("transaction", "a"),)))
        with pytest.raises(BrokerError, match="max_transactions limit of 1"):
            broker.begin(client.session, Frame("BEGIN", (("transaction", "b"),)))
        client.send("/queue/q", b"", ("transaction", "a"))
        client.send("/queue/q", b"", ("transaction", "a"))
        with pytest.raises(BrokerError, match="max_transaction_frames limit of 2"):
            client.send("/queue/q", b"", ("transaction", "a"))


class TestLimitsAndConfig:
    def test_destination_outside_prefixes_is_refused(self, broker: Broker) -> None:
        with pytest.raises(BrokerError, match="unknown destination"):
            Client(broker).send("/elsewhere/a")

    def test_configurable_prefixes(self) -> None:
        broker = Broker(
            BrokerConfig(
                prefixes={"/exchange/": DestinationKind.TOPIC, "/amq/queue/": DestinationKind.QUEUE}
            )
        )
        sub, producer = Client(broker), Client(broker)
        sub.subscribe("/exchange/x")
        producer.send("/exchange/x", b"1")
        assert sub.bodies() == [b"1"]
        with pytest.raises(BrokerError):
            producer.send("/topic/x")

    def test_subscription_limit(self) -> None:
        broker = Broker(BrokerConfig(max_subscriptions=2))
        client = Client(broker)
        client.subscribe("/topic/a", "1")
        client.subscribe("/topic/a", "2")
        with pytest.raises(BrokerError, match="max_subscriptions limit of 2"):
            client.subscribe("/topic/a", "3")

    def test_duplicate_subscription_id(self, broker: Broker) -> None:
        client = Client(broker)
        client.subscribe("/topic/a", "1")
        with pytest.raises(BrokerError, match="duplicate subscription"):
            client.subscribe("/topic/b", "1")

    def test_every_default_limit_is_finite(self) -> None:
        config = BrokerConfig()
        for name in (
            "queue_max_messages",
            "queue_max_bytes",
            "queue_high_water",
            "topic_pending_messages",
            "max_redeliveries",
            "max_subscriptions",
            "max_transactions",
            "max_transaction_frames",
        ):
            assert isinstance(getattr(config, name), int), name

    def test_bad_config_is_refused(self) -> None:
        with pytest.raises(ValueError, match="separator"):
            BrokerConfig(separator=":")
        with pytest.raises(ValueError, match="queue_max_messages"):
            BrokerConfig(queue_max_messages=-1)


class TestSlowConsumers:
    def blocked(self, policy: SlowConsumerPolicy) -> tuple[Broker, Client, Client]:
        broker = Broker(BrokerConfig(topic_pending_messages=2, slow_consumer_policy=policy))
        slow, producer = Client(broker), Client(broker)
        slow.subscribe("/topic/t")
        slow.set_writable(False)
        for i in range(4):
            producer.send("/topic/t", str(i).encode())
        return broker, slow, producer

    def test_drop_oldest(self) -> None:
        broker, slow, _ = self.blocked(SlowConsumerPolicy.DROP_OLDEST)
        assert slow.received() == []
        slow.set_writable(True)
        assert slow.bodies() == [b"2", b"3"]
        assert broker.stats.dropped_slow_consumer == 2

    def test_drop_newest(self) -> None:
        _, slow, _ = self.blocked(SlowConsumerPolicy.DROP_NEWEST)
        slow.set_writable(True)
        assert slow.bodies() == [b"0", b"1"]

    def test_disconnect(self) -> None:
        _, slow, _ = self.blocked(SlowConsumerPolicy.DISCONNECT)
        assert slow.sink.failed and slow.sink.failed[0][0] == "slow consumer"

    def test_order_is_kept_after_a_pause(self, broker: Broker) -> None:
        slow, producer = Client(broker), Client(broker)
        slow.subscribe("/topic/t")
        producer.send("/topic/t", b"0")
        slow.set_writable(False)
        producer.send("/topic/t", b"1")
        slow.set_writable(True)
        producer.send("/topic/t", b"2")
        assert slow.bodies() == [b"0", b"1", b"2"]

    def test_queue_messages_wait_while_consumer_is_blocked(self, broker: Broker) -> None:
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q")
        consumer.set_writable(False)
        producer.send("/queue/q", b"1")
        assert consumer.received() == []
        consumer.set_writable(True)
        assert consumer.bodies() == [b"1"]


def test_header_escaping_per_subscriber_version(broker: Broker) -> None:
    new, old, producer = Client(broker, "1.2"), Client(broker, "1.1"), Client(broker)
    new.subscribe("/topic/t")
    old.subscribe("/topic/t")
    producer.send("/topic/t", b"x", ("k", "a:b\r"))
    assert new.received()[0].get("k") == "a:b\r"
    assert old.received()[0].get("k") == "a:b\r"


class TestFlowControl:
    """A session whose output is full is handed nothing more until it was written."""

    def test_a_full_consumer_leaves_the_queue_to_others(self, broker: Broker) -> None:
        stalled = Client(broker, output_limit=300)
        live, producer = Client(broker), Client(broker)
        stalled.subscribe("/queue/q")
        live.subscribe("/queue/q")
        for i in range(20):
            producer.send("/queue/q", b"%d" % i + b"x" * 100)
        taken = len(stalled.sink.conn.take_output()) // 2  # head and tail per message
        assert 1 <= taken <= 3
        assert len(live.bodies()) == 20 - taken

    def test_room_again_once_written(self, broker: Broker) -> None:
        consumer, producer = Client(broker, output_limit=300), Client(broker)
        consumer.subscribe("/queue/q")
        for _ in range(10):
            producer.send("/queue/q", b"x" * 100)
        got = len(consumer.bodies())
        assert got < 10
        assert broker.queue_depth("/queue/q") > 0  # the rest waits in the queue
        while broker.queue_depth("/queue/q"):
            got += len(consumer.bodies())
        got += len(consumer.bodies())
        assert got == 10

    def test_auto_ack_settles_when_written(self, tmp_path: Path) -> None:
        broker = Broker(BrokerConfig(store=str(tmp_path / "store.db")))
        assert broker.store is not None
        consumer, producer = Client(broker), Client(broker)
        consumer.subscribe("/queue/q")
        producer.send("/queue/q", b"1", ("persistent", "true"))
        assert len(broker.store) == 1  # queued for the socket, not yet written
        assert consumer.bodies() == [b"1"]
        assert len(broker.store) == 0
        broker.close()

    def test_auto_ack_messages_never_written_go_back(self, broker: Broker) -> None:
        lost, producer = Client(broker), Client(broker)
        lost.subscribe("/queue/q")
        for i in range(3):
            producer.send("/queue/q", b"%d" % i)
        broker.close_session(lost.session)  # the connection dropped before a write
        assert broker.queue_depth("/queue/q") == 3
        later = Client(broker)
        later.subscribe("/queue/q")
        frames = later.received()
        assert [f.body for f in frames] == [b"0", b"1", b"2"]
        assert all(f.get("redelivered") is None for f in frames)

    def test_topic_backlog_is_bounded_in_bytes(self) -> None:
        broker = Broker(BrokerConfig(topic_pending_bytes=10))
        slow, producer = Client(broker), Client(broker)
        slow.subscribe("/topic/t")
        slow.set_writable(False)
        for i in range(5):
            producer.send("/topic/t", b"%d___" % i)
        slow.set_writable(True)
        assert slow.bodies() == [b"3___", b"4___"]
        assert broker.stats.dropped_slow_consumer == 3

    def test_slow_consumer_error_names_the_limit(self) -> None:
        broker = Broker(
            BrokerConfig(topic_pending_bytes=10, slow_consumer_policy=SlowConsumerPolicy.DISCONNECT)
        )
        slow, producer = Client(broker), Client(broker)
        slow.subscribe("/topic/t")
        slow.set_writable(False)
        for _ in range(3):
            producer.send("/topic/t", b"1234")
        [(message, detail)] = slow.sink.failed
        assert message == "slow consumer"
        assert "topic_pending_bytes=10" in detail
