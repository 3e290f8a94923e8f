"""Random frame sequences against the broker: only BrokerError comes out, nothing
accepted into a queue is lost (delivered, still queued, or dead-lettered), and the
memory budget's figure always equals what the broker holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stompbox.broker import Broker, BrokerConfig, BrokerError
from stompbox.broker.memory import MESSAGE_OVERHEAD
from stompbox.protocol import Frame

from .test_broker import Client


def held_bytes(broker: Broker) -> int:
    """What the broker holds on clients' behalf, counted from its state."""
    messages = [m for q in broker._queues.values() for m in q.backlog]
    transactions = 0
    for session in broker.sessions.values():
        messages += session.settling
        transactions += sum(tx.size for tx in session.transactions.values())
        for sub in [*session.subscriptions.values(), *session.unsubscribed.values()]:
            messages += list(sub.unacked.values()) + list(sub.pending)
    return sum(len(m.body) + MESSAGE_OVERHEAD for m in messages) + transactions


destinations = st.sampled_from(
    ["/queue/a", "/queue/b", "/topic/t", "/topic/t/x", "/topic/t/*", "/topic/#", "/bad/x"]
)
ack_modes = st.sampled_from(["auto", "client", "client-individual"])
ops = st.one_of(
    st.tuples(st.just("subscribe"), st.integers(0, 2), destinations, ack_modes, st.integers(0, 3)),
    st.tuples(st.just("unsubscribe"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("send"), st.integers(0, 2), destinations, st.booleans()),
    st.tuples(
        st.just("ack"), st.integers(0, 2), st.integers(0, 20), st.sampled_from(["ACK", "NACK"])
    ),
    st.tuples(st.just("tx"), st.integers(0, 2), st.sampled_from(["BEGIN", "COMMIT", "ABORT"])),
    st.tuples(st.just("blocked"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("close"), st.integers(0, 2)),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(ops, max_size=100))
def test_random_operations(operations: list[tuple[object, ...]]) -> None:
    # Dead-lettering gives a message a new id; keep ids stable to count them.
    broker = Broker(BrokerConfig(max_redeliveries=1_000, queue_max_messages=50))
    clients = [Client(broker) for _ in range(3)]
    received: list[list[Frame]] = [[] for _ in range(3)]
    seen: set[str] = set()
    accepted = 0
    tx_sends = [0, 0, 0]
    for op in operations:
        kind, index = op[0], int(op[1])  # type: ignore[call-overload]
        client = clients[index]
        if client.session.closed:
            clients[index] = client = Client(broker)
            tx_sends[index] = 0
        try:
            if kind == "subscribe":
                _, _, dest, ack, sub = op
                client.subscribe(str(dest), str(sub), str(ack), prefetch_count="2")
            elif kind == "unsubscribe":
                broker.unsubscribe(client.session, Frame("UNSUBSCRIBE", (("id", str(op[2])),)))
            elif kind == "send":
                _, _, dest, in_tx = op
                extra = (("transaction", "tx"),) if in_tx else ()
                client.send(str(dest), b"m", *extra)
                if str(dest).startswith("/queue/"):
                    if in_tx:
                        tx_sends[index] += 1
                    else:
                        accepted += 1
            elif kind == "ack":
                _, _, n, command = op
                acks = [f.get("ack") for f in received[index] if f.get("ack")]
                if acks:
                    client.ack(acks[int(n) % len(acks)] or "", str(command))  # type: ignore[call-overload]
            elif kind == "tx":
                command = str(op[2])
                getattr(broker, command.lower())(
                    client.session, Frame(command, (("transaction", "tx"),))
                )
                if command == "COMMIT":
                    accepted += tx_sends[index]
                tx_sends[index] = 0
            elif kind == "blocked":
                client.set_writable(bool(op[2]))
            elif kind == "close":
                broker.close_session(client.session)
        except BrokerError:
            pass
        assert broker.memory.used == held_bytes(broker), op
        for i, c in enumerate(clients):
            if not c.session.closed:
                frames = c.received()
                received[i].extend(frames)
                seen.update(
                    f.get("message-id") or ""
                    for f in frames
                    if (f.get("destination") or "").startswith("/queue/")
                )
        assert broker.memory.used == held_bytes(broker), op
    queued = {m.id for q in broker._queues.values() for m in q.backlog}
    for queue in broker._queues.values():
        assert queue.backlog_bytes == sum(len(m.body) for m in queue.backlog)
    # every message a queue accepted was delivered at least once or is still queued
    assert len(seen | queued) == accepted
