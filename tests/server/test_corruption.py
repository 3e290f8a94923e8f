"""One client never corrupts another's stream, and no input gives an "internal error".

Over real sockets: a 1.2 publisher's headers that STOMP 1.0 cannot write, text the server
would have to echo and cannot, and a seeded fuzzer of mutated frames across versions.
"""

from __future__ import annotations

import logging
import random
import socket
import time

import pytest

from stompbox.protocol import RemoteProtocolError
from stompbox.server import ServerConfig

from .helpers import RawClient, ServerThread

# A colon in a name and a line feed in a value: STOMP 1.2 escapes both, 1.0 cannot.
UNWRITABLE = b"x\\cy:1\nnl:a\\nb\ncr:a\\rb\n"


def test_a_topic_subscriber_on_1_0_gets_whole_frames(server: ServerThread) -> None:
    old, new, publisher = RawClient(server.port), RawClient(server.port), RawClient(server.port)
    old.connect("1.0")
    old.send(b"SUBSCRIBE\ndestination:/topic/c\nreceipt:r\n\n\0")
    new.connect("1.2")
    new.send(b"SUBSCRIBE\nid:1\ndestination:/topic/c\nreceipt:r\n\n\0")
    assert old.next_frame().command == new.next_frame().command == "RECEIPT"
    publisher.connect("1.2")
    publisher.send(b"SEND\ndestination:/topic/c\nkept:1\n" + UNWRITABLE + b"\nfirst\0")
    publisher.send(b"SEND\ndestination:/topic/c\nreceipt:p\n\nsecond\0")
    assert publisher.next_frame().get("receipt-id") == "p"  # not an ERROR
    first, second = old.next_frame(), old.next_frame()
    assert (first.body, first.get("kept"), first.get("x:y"), first.get("nl")) == (
        b"first",
        "1",
        None,
        None,
    )
    assert second.body == b"second"
    first, second = new.next_frame(), new.next_frame()
    assert (first.get("x:y"), first.get("nl"), first.get("cr")) == ("1", "a\nb", "a\rb")
    assert second.body == b"second"


def test_a_queue_message_is_no_poison_for_1_0_consumers(server: ServerThread) -> None:
    publisher = RawClient(server.port)
    publisher.connect("1.2")
    publisher.send(b"SEND\ndestination:/queue/c\n" + UNWRITABLE + b"receipt:p\n\nbody\0")
    assert publisher.next_frame().get("receipt-id") == "p"
    consumer = RawClient(server.port)
    consumer.connect("1.0")
    consumer.send(b"SUBSCRIBE\ndestination:/queue/c\nack:client\n\n\0")
    message = consumer.next_frame()
    assert message.command == "MESSAGE"
    assert message.body == b"body"
    assert message.get("x:y") is None
    consumer.send(b"ACK\nmessage-id:" + (message.get("message-id") or "").encode() + b"\n\n\0")
    consumer.send(b"DISCONNECT\nreceipt:d\n\n\0")
    assert consumer.next_frame().get("receipt-id") == "d"


@pytest.mark.parametrize(
    ("version", "data", "message"),
    [
        ("1.0", b"SEND\ndestination:/queue/a\nreceipt:r\r1\n\n\0", "receipt header cannot"),
        ("1.0", b"SUBSCRIBE\ndestination:/queue/a\nid:s\r1\n\n\0", "id header cannot"),
        ("1.2", b"SEND\ndestination:/topic/a\\nb\n\n\0", "destination header cannot"),
    ],
)
def test_what_cannot_be_echoed_is_refused_by_name(
    server: ServerThread, version: str, data: bytes, message: str
) -> None:
    client = RawClient(server.port)
    client.connect(version)
    client.send(data)
    error = client.next_frame()
    assert error.command == "ERROR"
    assert message in (error.get("message") or ""), error
    assert client.closed_by_server()


def test_a_cr_in_a_connect_header_gets_an_error_naming_it(server: ServerThread) -> None:
    client = RawClient(server.port)
    client.send(b"CONNECT\naccept-version:9\r9\nreceipt:a\rb\n\n\0")
    error = client.next_frame()
    assert error.get("message") == (
        "no common protocol version: client accepts 9\\r9, server supports 1.0,1.1,1.2"
    )
    assert client.closed_by_server()


# -- fuzzing ---------------------------------------------------------------------------

SESSIONS = {
    "1.0": [
        b"CONNECT\nlogin:u\npasscode:p\nreceipt:c1\n\n\0",
        b"SUBSCRIBE\ndestination:/queue/fz\nack:client-individual\nreceipt:s1\n\n\0",
        b"SEND\ndestination:/topic/fz\nx:1\nreceipt:r1\n\nbody\0",
        b"SEND\ndestination:/queue/fz\ncontent-length:3\n\na\0b\0",
        b"BEGIN\ntransaction:t\n\n\0",
        b"ACK\nmessage-id:m\ntransaction:t\n\n\0",
        b"COMMIT\ntransaction:t\nreceipt:r2\n\n\0",
        b"UNSUBSCRIBE\ndestination:/queue/fz\n\n\0",
        b"DISCONNECT\nreceipt:d\n\n\0",
    ],
    "1.1": [
        b"CONNECT\naccept-version:1.1\nhost:x\nheart-beat:0,0\n\n\0",
        b"SUBSCRIBE\nid:a\\cb\ndestination:/topic/fz\nack:client\n\n\0",
        b"SEND\ndestination:/topic/fz\nk\\cey:v\\nal\nreceipt:r\\\\1\n\nbody\0",
        b"NACK\nmessage-id:m\nsubscription:a:b\n\n\0",
        b"DISCONNECT\n\n\0",
    ],
    "1.2": [
        b"STOMP\r\naccept-version:1.0,1.2\r\nhost:x\r\nheart-beat:1000,1000\r\n\r\n\0",
        b"SUBSCRIBE\r\nid:1\r\ndestination:/queue/fz\r\nreceipt:s\\r\r\n\r\n\0",
        b"SEND\ndestination:/topic/fz\nx\\cy:a\\rb\\nc\npersistent:true\n\nbody\0\r\n",
        b"ACK\nid:nope\nreceipt:x\\r\n\n\0",
        b"DISCONNECT\r\nreceipt:d\r\n\r\n\0",
    ],
}
INTERESTING = [b"\r", b"\n", b":", b"\\", b"\0", b"\\r", b"\\n", b"\\c", b"\xff", b",", b"\r\n"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data) + 1)
        kind = rng.random()
        if kind < 0.5:
            data = data[:at] + rng.choice(INTERESTING) + data[at:]
        elif kind < 0.7:
            data = data[:at] + data[at + rng.randint(1, 4) :]
        elif kind < 0.85:
            data = data[:at] + bytes([rng.randrange(256)]) + data[at:]
        else:
            other = rng.randrange(len(data) + 1)
            data = data[:at] + data[min(at, other) : max(at, other)] + data[at:]
    return data


def exchange(port: int, data: bytes) -> None:
    """Send ``data``, end the stream, and read until the server closes (or goes quiet)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(1.0)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass  # reset, or a server that stopped reading: both fine here


def test_fuzzed_frames_never_give_an_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(11)
    config = ServerConfig(port=0, ws_port=0, connect_timeout=1.0)
    with ServerThread(config) as server:
        old = RawClient(server.port)  # a 1.0 subscriber every fuzzed SEND reaches
        old.connect("1.0")
        old.send(b"SUBSCRIBE\ndestination:/topic/fz\nreceipt:r\n\n\0")
        assert old.next_frame().command == "RECEIPT"
        deadline = time.monotonic() + 3.0
        runs = 0
        while time.monotonic() < deadline:
            version = rng.choice(sorted(SESSIONS))
            frames = SESSIONS[version]
            index = rng.randrange(len(frames))
            session = [*frames[:index], mutate(rng, frames[index]), *frames[index + 1 :]]
            exchange(server.port, b"".join(session))
            runs += 1
        try:
            assert not old.closed_by_server(0.3)  # reads and parses all it was sent
        except RemoteProtocolError as exc:
            pytest.fail(f"the 1.0 subscriber's stream is corrupt: {exc}")
    assert runs > 100
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or "internal" in r.getMessage()]
    assert not bad, [r.getMessage() for r in bad[:5]]
