"""Per-topic retention and resume (issue 17): positions, replay, bounds and gap marks,
driven synchronously through the broker's public methods."""

from __future__ import annotations

import pytest

from stompbox.broker import Broker, BrokerConfig, BrokerError
from stompbox.broker.memory import MESSAGE_OVERHEAD
from stompbox.protocol import Frame

from .test_broker import Client


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def retaining(**options: object) -> Broker:
    config = BrokerConfig(retain_topics=["/topic/chat", "/topic/room.*"], **options)  # type: ignore[arg-type]
    return Broker(config)


def seq_of(frame: Frame) -> str:
    seq = frame.get("stompbox-seq")
    assert seq is not None
    return seq


def test_off_by_default_no_position_and_a_resume_told_of_its_gap() -> None:
    broker = Broker()
    assert broker.retention is None
    a, producer = Client(broker), Client(broker)
    a.subscribe("/topic/chat")
    producer.send("/topic/chat", b"1")
    [m] = a.received()
    assert m.get("stompbox-seq") is None
    # a client given its position while retention was on is told of the gap, not refused
    resumed = Client(broker)
    resumed.subscribe("/topic/chat", resume_from="abc-1")
    assert resumed.received() == []
    producer.send("/topic/chat", b"2")
    [first] = resumed.received()
    assert (first.body, first.get("stompbox-resume")) == (b"2", "gap")
    assert a.received()[0].get("stompbox-resume") is None


def test_positions_increase_and_carry_the_epoch() -> None:
    broker = retaining()
    a, producer = Client(broker), Client(broker)
    a.subscribe("/topic/chat")
    a.subscribe("/topic/other", "1")
    for body in (b"1", b"2", b"3"):
        producer.send("/topic/chat", body)
    producer.send("/topic/other", b"x")
    frames = a.received()
    seqs = [seq_of(f) for f in frames[:3]]
    epochs = {s.rpartition("-")[0] for s in seqs}
    assert len(epochs) == 1
    assert [int(s.rpartition("-")[2]) for s in seqs] == [1, 2, 3]
    assert frames[3].get("stompbox-seq") is None  # not retained: no position
    assert Broker(broker.config).retention is not None
    assert Broker(broker.config).retention.epoch not in epochs  # type: ignore[union-attr]


def test_a_sender_cannot_forge_positions() -> None:
    broker = retaining()
    a, producer = Client(broker), Client(broker)
    a.subscribe("/topic/other")
    producer.send("/topic/other", b"x", ("stompbox-seq", "f-9"), ("stompbox-resume", "ok"))
    [m] = a.received()
    assert m.get("stompbox-seq") is None and m.get("stompbox-resume") is None


def test_resume_replays_what_was_missed_in_order_then_live_without_gap_or_duplicate() -> None:
    broker = retaining()
    first, producer = Client(broker), Client(broker)
    first.subscribe("/topic/chat")
    for n in range(5):
        producer.send("/topic/chat", str(n).encode())
    seen = first.received()[:2]  # it saw two, then its connection went
    broker.close_session(first.session)
    for n in range(5, 8):
        producer.send("/topic/chat", str(n).encode())
    again = Client(broker)
    again.subscribe("/topic/chat", resume_from=seq_of(seen[-1]))
    producer.send("/topic/chat", b"8")
    frames = again.received()
    assert [f.body for f in frames] == [str(n).encode() for n in range(2, 9)]
    assert frames[0].get("stompbox-resume") == "ok"
    assert all(f.get("stompbox-resume") is None for f in frames[1:])
    assert frames[0].get("redelivered") is None
    numbers = [int(seq_of(f).rpartition("-")[2]) for f in frames]
    assert numbers == sorted(set(numbers))


def test_resume_when_up_to_date_marks_the_first_live_message() -> None:
    broker = retaining()
    a, producer = Client(broker), Client(broker)
    a.subscribe("/topic/chat")
    producer.send("/topic/chat", b"1")
    [m] = a.received()
    b = Client(broker)
    b.subscribe("/topic/chat", resume_from=seq_of(m))
    assert b.received() == []
    producer.send("/topic/chat", b"2")
    producer.send("/topic/chat", b"3")
    frames = b.received()
    assert [f.body for f in frames] == [b"2", b"3"]
    assert frames[0].get("stompbox-resume") == "ok"
    assert frames[1].get("stompbox-resume") is None
    assert [f.get("stompbox-resume") for f in a.received()] == [None, None]


def test_a_position_older_than_the_window_is_a_gap() -> None:
    broker = retaining(retain_messages=3)
    a, producer = Client(broker), Client(broker)
    a.subscribe("/topic/chat")
    producer.send("/topic/chat", b"0")
    [m] = a.received()
    for n in range(1, 6):
        producer.send("/topic/chat", str(n).encode())
    b = Client(broker)
    b.subscribe("/topic/chat", resume_from=seq_of(m))
    frames = b.received()
    assert [f.body for f in frames] == [b"3", b"4", b"5"]
    assert frames[0].get("stompbox-resume") == "gap"


def test_a_position_from_another_run_is_a_gap() -> None:
    broker = retaining()
    producer = Client(broker)
    b = Client(broker)
    b.subscribe("/topic/chat", resume_from="0ld0ld-7")
    producer.send("/topic/chat", b"1")
    [m] = b.received()
    assert m.get("stompbox-resume") == "gap"


def test_a_topic_no_longer_retained_is_resumed_with_a_gap() -> None:
    """A client may hold a position from before retain_topics changed: no ERROR (it
    would meet it at every reconnection), but the first message says what happened."""
    broker = retaining()
    b, producer = Client(broker), Client(broker)
    b.subscribe("/topic/other", resume_from="0ld0ld-7")
    producer.send("/topic/other", b"1")
    producer.send("/topic/other", b"2")
    first, second = b.received()
    assert first.get("stompbox-resume") == "gap" and first.get("stompbox-seq") is None
    assert second.get("stompbox-resume") is None


def test_bad_positions_are_refused_by_name() -> None:
    broker = retaining()
    c = Client(broker)
    with pytest.raises(BrokerError, match="not a stompbox-seq value"):
        c.subscribe("/topic/chat", resume_from="12")
    with pytest.raises(BrokerError, match="not a number of milliseconds"):
        c.subscribe("/topic/chat", since="yesterday")
    with pytest.raises(BrokerError, match="not both"):
        c.subscribe("/topic/chat", resume_from="a-1", since="1")
    with pytest.raises(BrokerError, match="past the last position"):
        c.subscribe("/topic/chat", resume_from=f"{broker.retention.epoch}-5")  # type: ignore[union-attr]
    with pytest.raises(BrokerError, match="cannot be resumed: a queue"):
        c.subscribe("/queue/chat", resume_from="a-1")
    assert c.session.subscriptions == {}  # nothing half-made


def test_bounded_by_bytes_and_charged_to_the_memory_budget() -> None:
    broker = retaining(retain_bytes=10)
    producer = Client(broker)
    used = broker.memory.used
    for _ in range(4):
        producer.send("/topic/chat", b"abcd")  # only two fit in 10 bytes
    assert broker.memory.used - used == 2 * (4 + MESSAGE_OVERHEAD)
    b = Client(broker)
    b.subscribe("/topic/chat", since="0")
    frames = b.received()
    assert len(frames) == 2 and frames[0].get("stompbox-resume") == "gap"


def test_bounded_by_age_and_since_replays_from_a_time() -> None:
    broker = retaining(retain_seconds=10.0)
    clock = Clock()
    assert broker.retention is not None
    broker.retention.clock = clock
    producer = Client(broker)
    producer.send("/topic/chat", b"old")
    clock.now += 5
    producer.send("/topic/chat", b"mid")
    since = int(clock.now * 1000)
    clock.now += 1
    producer.send("/topic/chat", b"new")
    b = Client(broker)
    b.subscribe("/topic/chat", since=str(since))
    frames = b.received()
    assert [f.body for f in frames] == [b"mid", b"new"]
    assert frames[0].get("stompbox-resume") == "ok"
    clock.now += 7  # "old" is 13 s old now, past retain_seconds
    c = Client(broker)
    c.subscribe("/topic/chat", since="0")
    frames = c.received()
    assert [f.body for f in frames] == [b"mid", b"new"]
    assert frames[0].get("stompbox-resume") == "gap"


def test_the_sweep_gives_back_what_aged_out_of_a_silent_topic() -> None:
    broker = retaining(retain_seconds=10.0)
    clock = Clock()
    assert broker.retention is not None
    broker.retention.clock = clock
    before = broker.memory.used
    Client(broker).send("/topic/chat", b"abc")
    assert broker.memory.used == before + 3 + MESSAGE_OVERHEAD
    clock.now += 11
    broker.sweep_expired()
    assert broker.memory.used == before
    assert not broker.retention.windows["/topic/chat"].held


def test_at_most_retain_max_topics_and_the_forgotten_one_reports_a_gap() -> None:
    broker = retaining(retain_max_topics=2)
    producer = Client(broker)
    a = Client(broker)
    a.subscribe("/topic/room.a")
    producer.send("/topic/room.a", b"a1")
    [m] = a.received()
    producer.send("/topic/room.a", b"a2")
    producer.send("/topic/room.b", b"b1")
    producer.send("/topic/room.c", b"c1")  # room.a, published to least recently, goes
    assert list(broker.retention.windows) == ["/topic/room.b", "/topic/room.c"]  # type: ignore[union-attr]
    b = Client(broker)
    b.subscribe("/topic/room.a", resume_from=seq_of(m))
    producer.send("/topic/room.a", b"a3")
    [first] = b.received()
    assert first.body == b"a3" and first.get("stompbox-resume") == "gap"


def test_wildcard_subscription_replays_every_matching_topic_in_publish_order() -> None:
    broker = retaining(separator=".")
    producer = Client(broker)
    w = Client(broker)
    w.subscribe("/topic/room.*")
    producer.send("/topic/room.a", b"a1")
    [m] = w.received()
    broker.close_session(w.session)
    producer.send("/topic/room.b", b"b1")
    producer.send("/topic/room.a", b"a2")
    producer.send("/topic/room.b", b"b2")
    producer.send("/topic/chat", b"elsewhere")
    again = Client(broker)
    again.subscribe("/topic/room.*", resume_from=seq_of(m))
    frames = again.received()
    assert [f.body for f in frames] == [b"b1", b"a2", b"b2"]
    assert frames[0].get("stompbox-resume") == "ok"


def test_a_private_topic_is_never_retained_nor_replayed_to_another_session() -> None:
    broker = retaining(separator=".")
    owner, other = Client(broker), Client(broker)
    broker.reserve("/topic/room.secret", owner.session, "/user/topic/secret")
    owner.subscribe("/topic/room.secret")
    broker.publish("/topic/room.secret", (), b"for the owner only")
    [mine] = owner.received()
    assert mine.get("stompbox-seq") is None
    other.subscribe("/topic/room.*", since="0")
    broker.publish("/topic/room.secret", (), b"again")
    broker.publish("/topic/room.open", (), b"public")
    [public] = other.received()
    assert public.body == b"public" and public.get("stompbox-resume") == "ok"
    assert "/topic/room.secret" not in broker.retention.windows  # type: ignore[union-attr]


def test_client_ack_replay_is_acknowledged_like_any_message() -> None:
    broker = retaining()
    producer = Client(broker)
    for n in range(3):
        producer.send("/topic/chat", str(n).encode())
    used = broker.memory.used
    b = Client(broker)
    b.subscribe("/topic/chat", ack="client-individual", since="0")
    frames = b.received()
    assert [f.body for f in frames] == [b"0", b"1", b"2"]
    assert broker.memory.used > used  # unacked copies are charged until acked
    for frame in frames:
        ack = frame.get("ack")
        assert ack is not None
        b.ack(ack)
    assert broker.memory.used == used


def test_a_replay_respects_prefetch_count_then_follows_with_live_messages_in_order() -> None:
    broker = retaining()
    producer = Client(broker)
    for n in range(3):
        producer.send("/topic/chat", str(n).encode())
    b = Client(broker)
    b.subscribe("/topic/chat", ack="client-individual", since="0", prefetch_count="1")
    producer.send("/topic/chat", b"3")
    bodies = []
    for _ in range(4):
        [frame] = b.received()  # one at a time: the prefetch-count
        bodies.append(frame.body)
        ack = frame.get("ack")
        assert ack is not None
        b.ack(ack)
    assert bodies == [b"0", b"1", b"2", b"3"]


def test_unsubscribing_before_the_first_message_forgets_the_mark() -> None:
    broker = retaining()
    b = Client(broker)
    b.subscribe("/topic/chat", since="0")
    assert broker.retention is not None and broker.retention.marks
    b.broker.unsubscribe(b.session, Frame("UNSUBSCRIBE", (("id", "0"),)))
    assert not broker.retention.marks


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"retain_topics": ["/queue/a"]}, "not a topic name"),
        ({"retain_topics": "/topic/a"}, "must be a list"),
        ({"retain_messages": 0}, "retain_messages must be an integer of at least 1"),
        ({"retain_bytes": True}, "retain_bytes must be an integer"),
        ({"retain_seconds": float("inf")}, "positive finite"),
        ({"retain_seconds": 0}, "positive finite"),
        ({"retain_max_topics": 0}, "retain_max_topics"),
    ],
)
def test_config_refuses_unbounded_or_misnamed_retention(
    options: dict[str, object], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        BrokerConfig(**options)  # type: ignore[arg-type]
