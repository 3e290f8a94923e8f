"""`/metrics` of `stompbox serve` after known traffic over real sockets: frames and bytes
each way, acks, subscriptions, unacked messages, ERRORs by kind, slow-consumer actions,
and the sampled parse and dispatch histograms."""

from __future__ import annotations

from pathlib import Path

from stompbox.protocol import Frame
from stompbox.server.traffic import SAMPLE_EVERY

from .helpers import RawClient
from .test_management import get, samples, serving

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class CountedClient(RawClient):
    """A raw client that adds what it sends to a shared count."""

    def __init__(self, port: int, sent: list[int]) -> None:
        super().__init__(port)
        self.sent = sent

    def send(self, data: bytes) -> None:
        self.sent[0] += len(data)
        super().send(data)

    def frame(self, command: str) -> Frame:
        frame = self.next_frame()
        assert frame.command == command, frame
        return frame


def scrape(http: int) -> Samples:
    status, text = get(http, "/metrics")
    assert status == 200
    return samples(text)


def one(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def histogram_count(found: Samples, name: str) -> float:
    """A histogram's count, after checking that its buckets add up to it."""
    count = one(found, f"{name}_count")
    buckets = sorted(
        (float(dict(key[1])["le"]), value)
        for key, value in found.items()
        if key[0] == name + "_bucket"
    )
    values = [value for _, value in buckets]
    assert values == sorted(values), "buckets are cumulative"
    assert buckets[-1] == (float("inf"), count)
    return count


def test_exact_counts_after_known_traffic(tmp_path: Path) -> None:
    config = tmp_path / "stompbox.toml"
    config.write_text('[broker]\ntopic_pending_messages = 2\nslow_consumer_policy = "disconnect"\n')
    with serving("--config", str(config)) as (port, http, _):
        sent = [0]
        clients: list[CountedClient] = []

        def client() -> CountedClient:
            made = CountedClient(port, sent)
            made.connect("1.2")
            clients.append(made)
            return made

        publisher, consumer, slow = client(), client(), client()
        consumer.send(
            b"SUBSCRIBE\nid:1\ndestination:/queue/m\nack:client-individual\nreceipt:r1\n\n\0"
        )
        consumer.frame("RECEIPT")
        for i in range(3):
            receipt = b"receipt:r2\n" if i == 2 else b""
            publisher.send(b"SEND\ndestination:/queue/m\n" + receipt + f"\nm{i}\0".encode())
        publisher.frame("RECEIPT")
        first, second, _ = (consumer.frame("MESSAGE") for _ in range(3))
        consumer.send(f"ACK\nid:{first.get('ack')}\n\n\0".encode())
        consumer.send(f"NACK\nid:{second.get('ack')}\n\n\0".encode())
        assert consumer.frame("MESSAGE").get("redelivered") == "true"
        consumer.send(b"SUBSCRIBE\nid:2\ndestination:/topic/other\nreceipt:r3\n\n\0")
        consumer.frame("RECEIPT")

        # a topic subscriber that takes one message at a time: two wait for it, the
        # third past them disconnects it (slow_consumer_policy = "disconnect")
        slow.send(
            b"SUBSCRIBE\nid:s\ndestination:/topic/s\nack:client\nprefetch-count:1\nreceipt:r4\n\n\0"
        )
        slow.frame("RECEIPT")
        for i in range(4):
            receipt = b"receipt:r5\n" if i == 3 else b""
            publisher.send(b"SEND\ndestination:/topic/s\n" + receipt + f"\nt{i}\0".encode())
        publisher.frame("RECEIPT")
        slow.frame("MESSAGE")
        assert slow.frame("ERROR").get("message") == "slow consumer"

        refused = client()
        refused.send(b"SUBSCRIBE\nid:x\ndestination:/nowhere\n\n\0")
        assert refused.frame("ERROR").get("message") == "unknown destination"
        broken = client()
        broken.send(b"BOGUS\n\n\0")
        assert broken.frame("ERROR").get("message") == "unknown command 'BOGUS'"
        for gone in (slow, refused, broken):
            assert gone.closed_by_server()

        found = scrape(http)

    def received(command: str) -> float:
        return one(found, "stompbox_frames_received_total", command=command)

    assert {c: received(c) for c in ("CONNECT", "SEND", "SUBSCRIBE", "ACK", "NACK")} == {
        "CONNECT": 5,
        "SEND": 7,
        "SUBSCRIBE": 4,  # the refused one too: it was a valid frame
        "ACK": 1,
        "NACK": 1,
    }
    assert received("UNSUBSCRIBE") == received("DISCONNECT") == received("STOMP") == 0

    def sent_frames(command: str) -> float:
        return one(found, "stompbox_frames_sent_total", command=command)

    assert sent_frames("CONNECTED") == 5
    assert sent_frames("MESSAGE") == 5  # 3 + a redelivery to the queue, 1 to the topic
    assert sent_frames("RECEIPT") == 5
    assert sent_frames("ERROR") == 3
    errors = {
        labels[0][1]: value
        for (name, labels), value in found.items()
        if name == "stompbox_errors_total"
    }
    assert errors.pop("slow consumer") == 1
    assert errors.pop("invalid frame") == 1
    assert errors.pop("protocol error") == 1
    assert set(errors.values()) == {0}  # every other kind is shown, at 0

    assert one(found, "stompbox_bytes_received_total") == sent[0]
    assert one(found, "stompbox_bytes_sent_total") == sum(len(c.raw) for c in clients)
    assert one(found, "stompbox_acks_total") == 1
    assert one(found, "stompbox_nacks_total") == 1
    assert one(found, "stompbox_subscriptions", kind="queue") == 1
    assert one(found, "stompbox_subscriptions", kind="topic") == 1  # the slow one is gone
    assert one(found, "stompbox_queue_unacked_messages", queue="/queue/m") == 2

    def action(policy: str, what: str) -> float:
        return one(found, "stompbox_slow_consumer_actions_total", policy=policy, action=what)

    assert action("disconnect", "dropped") == 1
    assert action("disconnect", "disconnected") == 1
    assert action("queue_high_water", "paused") == 0

    reads = one(found, "stompbox_reads_total")
    assert histogram_count(found, "stompbox_parse_seconds") == reads // SAMPLE_EVERY
    assert histogram_count(found, "stompbox_dispatch_seconds") <= 13  # broker frames


def test_parse_and_dispatch_are_timed_once_every_sample_passes() -> None:
    """Each SEND waits for its receipt, so it arrives in a read of its own: a pass with one
    frame for the broker. Of 64 such passes, 4 are timed, one frame each."""
    with serving() as (port, http, _):
        client = RawClient(port)
        client.connect("1.2")
        before = scrape(http)
        for i in range(4 * SAMPLE_EVERY):
            client.send(f"SEND\ndestination:/topic/t\nreceipt:{i}\n\nm\0".encode())
            assert client.next_frame().command == "RECEIPT"
        after = scrape(http)

    def grew(name: str) -> float:
        return after[(name, ())] - before[(name, ())]

    assert grew("stompbox_reads_total") == 4 * SAMPLE_EVERY
    assert grew("stompbox_parse_seconds_count") == 4
    assert grew("stompbox_dispatch_seconds_count") == 4
    assert grew("stompbox_parse_seconds_sum") > 0
    assert grew("stompbox_dispatch_seconds_sum") > 0
    histogram_count(after, "stompbox_parse_seconds")
    histogram_count(after, "stompbox_dispatch_seconds")
