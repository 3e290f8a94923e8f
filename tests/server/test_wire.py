"""The server on raw sockets: exact bytes, malformed input, limits, timers."""

from __future__ import annotations

import time

import pytest

from stompbox.broker import BrokerConfig, SlowConsumerPolicy
from stompbox.protocol import Limits
from stompbox.server import ServerConfig

from .helpers import RawClient, ServerThread


def test_activemq_nc_walkthrough(server: ServerThread) -> None:
    """The CONNECT / SUBSCRIBE / SEND session from ActiveMQ's docs, typed into nc."""
    client = RawClient(server.port)
    client.send(b"CONNECT\n\n\0")
    connected = client.next_frame()
    assert connected.command == "CONNECTED"
    assert connected.get("session")
    client.send(b"SUBSCRIBE\ndestination:/queue/a\nack:client\n\n\0")
    client.send(b"SEND\ndestination:/queue/a\n\nhello queue a\n\0")
    message = client.next_frame()
    assert message.command == "MESSAGE"
    assert message.body == b"hello queue a\n"
    assert message.get("destination") == "/queue/a"
    client.send(b"ACK\nmessage-id:" + (message.get("message-id") or "").encode() + b"\n\n\0")
    client.send(b"DISCONNECT\nreceipt:77\n\n\0")
    assert client.next_frame().get("receipt-id") == "77"
    assert client.closed_by_server()


def test_pipelined_frames_in_one_write(server: ServerThread) -> None:
    client = RawClient(server.port)
    frames = [b"CONNECT\naccept-version:1.2\nhost:x\n\n\0"]
    frames.append(b"SUBSCRIBE\nid:1\ndestination:/queue/p\nreceipt:s\n\n\0")
    frames += [b"SEND\ndestination:/queue/p\n\n%d\0\n" % i for i in range(100)]
    frames.append(b"DISCONNECT\nreceipt:d\n\n\0")
    client.send(b"".join(frames))
    assert client.next_frame().command == "CONNECTED"
    assert client.next_frame().get("receipt-id") == "s"
    bodies = [client.next_frame().body for _ in range(100)]
    assert bodies == [b"%d" % i for i in range(100)]
    assert client.next_frame().get("receipt-id") == "d"
    assert client.closed_by_server()


def test_1_2_message_frame_exact_bytes(server: ServerThread) -> None:
    client = RawClient(server.port)
    client.connect("1.2")
    client.send(
        b"SUBSCRIBE\nid:sub-0\ndestination:/topic/t\nack:client-individual\nreceipt:r\n\n\0"
    )
    assert client.next_frame().command == "RECEIPT"
    client.send(b"SEND\ndestination:/topic/t\ncontent-type:text/plain\nx:a\\cb\n\nhi\0")
    message = client.next_frame()
    assert message.headers[:2] == (("subscription", "sub-0"), ("ack", message.get("ack")))
    assert message.get("x") == "a:b"
    assert message.get("content-length") == "2"
    assert b"x:a\\cb\n" in client.raw


def test_crlf_frames(server: ServerThread) -> None:
    client = RawClient(server.port)
    client.send(b"CONNECT\r\naccept-version:1.2\r\nhost:x\r\n\r\n\0")
    assert client.next_frame().command == "CONNECTED"
    client.parser.version = "1.2"
    client.send(b"SUBSCRIBE\r\nid:1\r\ndestination:/queue/crlf\r\n\r\n\0")
    client.send(b"SEND\r\ndestination:/queue/crlf\r\n\r\nbody\0\r\n")
    assert client.next_frame().body == b"body"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"SEND\ndestination:/queue/a\n\n\0", "expected a CONNECT frame"),
        (b"CONNECT\naccept-version:9.9\n\n\0", "no common protocol version"),
        (b"BOGUS\n\n\0", "expected a CONNECT frame"),
        (b"CONNECT\nheart-beat:fast\n\n\0", "invalid heart-beat header"),
    ],
)
def test_errors_before_connect(server: ServerThread, data: bytes, message: str) -> None:
    client = RawClient(server.port)
    client.send(data)
    error = client.next_frame()
    assert error.command == "ERROR"
    assert message in (error.get("message") or "")
    assert client.closed_by_server()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"CONNECT\naccept-version:1.2\n\n\0", "already connected"),
        (b"SEND\nno colon here\n\n\0", "malformed frame"),
        (b"SEND\ndestination:/queue/a\\q\n\n\0", "undefined escape sequence"),
        (b"SUBSCRIBE\ndestination:/queue/a\n\n\0", "'id'"),
        (b"SEND\ndestination:/elsewhere\nreceipt:r\n\n\0", "unknown destination"),
        (b"UNSUBSCRIBE\nid:nope\n\n\0", "unknown subscription"),
        (b"COMMIT\ntransaction:nope\n\n\0", "unknown transaction"),
        (b"ACK\nid:nope\n\n\0", "unknown ACK id"),
        (b"FLY\n\n\0", "unknown command"),
    ],
)
def test_errors_after_connect(server: ServerThread, data: bytes, message: str) -> None:
    client = RawClient(server.port)
    client.connect("1.2")
    client.send(data)
    error = client.next_frame()
    assert error.command == "ERROR"
    assert message in (error.get("message") or ""), error
    if b"receipt:r" in data:
        assert error.get("receipt-id") == "r"
    assert client.closed_by_server()


def test_error_frame_is_flushed_before_close_after_many_messages(server: ServerThread) -> None:
    client = RawClient(server.port)
    client.connect("1.2")
    client.send(b"SUBSCRIBE\nid:1\ndestination:/queue/f\n\n\0")
    client.send(b"SEND\ndestination:/queue/f\n\nx\0" * 500 + b"SEND\n\n\0")
    frames = [client.next_frame() for _ in range(501)]
    assert [f.command for f in frames[:500]] == ["MESSAGE"] * 500
    assert frames[500].command == "ERROR"


def test_one_bad_client_does_not_affect_another(server: ServerThread) -> None:
    good = RawClient(server.port)
    good.connect()
    good.send(b"SUBSCRIBE\nid:1\ndestination:/topic/t\nreceipt:r\n\n\0")
    good.next_frame()
    bad = RawClient(server.port)
    bad.connect()
    bad.send(b"\xff\xfe garbage\n\n\0")
    assert bad.next_frame().command == "ERROR"
    good.send(b"SEND\ndestination:/topic/t\n\nok\0")
    assert good.next_frame().body == b"ok"


class TestLimits:
    def test_server_defaults_are_bounded(self) -> None:
        config = ServerConfig()
        assert config.limits.max_body_size == 16 * 1024 * 1024  # as RabbitMQ's tests send
        assert config.frame_timeout == 30.0
        assert 0 < config.broker.memory_budget < 1 << 62
        assert config.broker.max_transaction_bytes == 64 * 1024 * 1024
        assert config.limits.max_headers == 128
        assert config.limits.max_header_length == 8 * 1024
        assert config.connect_limits.max_frame_size == 16 * 1024
        assert config.connect_timeout == 5.0
        assert config.outbound_buffer == 1024 * 1024
        assert config.max_connections == 65_536
        assert config.heartbeat_floor == 1_000
        assert config.broker.max_subscriptions == 1_024
        assert config.broker.max_transactions == 16
        for limits in (config.limits, config.connect_limits):
            assert None not in (
                limits.max_frame_size,
                limits.max_body_size,
                limits.max_headers,
                limits.max_header_length,
            )

    def test_big_unauthenticated_frame_is_refused(self, server: ServerThread) -> None:
        client = RawClient(server.port)
        client.send(b"CONNECT\n" + b"h:" + b"x" * 8000 + b"\n" + b"g:y\n" * 3000)
        error = client.next_frame()
        assert "limit of" in (error.get("message") or "")
        assert client.closed_by_server()

    def test_body_limit_names_the_limit(self) -> None:
        config = ServerConfig(
            port=0, ws_port=0, limits=Limits(max_body_size=1000, max_frame_size=5000)
        )
        with ServerThread(config) as server:
            client = RawClient(server.port)
            client.connect()
            client.send(b"SEND\ndestination:/queue/a\ncontent-length:1001\n\n")
            error = client.next_frame()
            assert error.get("message") == "max_body_size limit of 1000 exceeded"
            assert client.closed_by_server()

    def test_header_count_limit(self) -> None:
        config = ServerConfig(port=0, ws_port=0, limits=Limits(max_headers=4))
        with ServerThread(config) as server:
            client = RawClient(server.port)
            client.connect()
            client.send(b"SEND\ndestination:/queue/a\n" + b"h:v\n" * 4 + b"\n\0")
            assert client.next_frame().get("message") == "max_headers limit of 4 exceeded"

    def test_connect_timeout(self) -> None:
        with ServerThread(ServerConfig(port=0, ws_port=0, connect_timeout=0.3)) as server:
            client = RawClient(server.port)
            client.send(b"CONN")
            error = client.next_frame()
            assert error.get("message") == "connect timeout"
            assert client.closed_by_server()

    def test_max_connections(self) -> None:
        with ServerThread(ServerConfig(port=0, ws_port=0, max_connections=2)) as server:
            clients = [RawClient(server.port) for _ in range(2)]
            for client in clients:
                client.connect()
            extra = RawClient(server.port)
            assert extra.next_frame().get("message") == "max_connections limit of 2 exceeded"

    def test_subscription_limit(self) -> None:
        config = ServerConfig(port=0, ws_port=0, broker=BrokerConfig(max_subscriptions=1))
        with ServerThread(config) as server:
            client = RawClient(server.port)
            client.connect()
            client.send(b"SUBSCRIBE\nid:1\ndestination:/topic/a\n\n\0")
            client.send(b"SUBSCRIBE\nid:2\ndestination:/topic/a\n\n\0")
            assert client.next_frame().get("message") == "max_subscriptions limit of 1 exceeded"


class TestHeartbeats:
    def test_server_sends_heartbeats(self) -> None:
        config = ServerConfig(port=0, ws_port=0, heartbeat=(100, 0), heartbeat_floor=100)
        with ServerThread(config) as server:
            client = RawClient(server.port)
            connected = client.connect("1.2", b"heart-beat:0,100\n")
            assert connected.get("heart-beat") == "100,0"
            raw_before = len(client.raw)
            time.sleep(0.55)
            client.sock.settimeout(1)
            data = client.sock.recv(100)
            assert set(data) == {ord("\n")}
            assert len(client.raw) == raw_before

    def test_silent_client_is_closed_after_grace(self) -> None:
        config = ServerConfig(
            port=0, ws_port=0, heartbeat=(0, 100), heartbeat_floor=100, heartbeat_grace=2.0
        )
        with ServerThread(config) as server:
            client = RawClient(server.port)
            client.connect("1.2", b"heart-beat:100,0\n")
            start = time.monotonic()
            error = client.next_frame()
            assert error.get("message") == "heart-beat timeout"
            assert client.closed_by_server()
            assert 0.15 < time.monotonic() - start < 2.0

    def test_heartbeating_client_stays(self) -> None:
        config = ServerConfig(port=0, ws_port=0, heartbeat=(0, 100), heartbeat_floor=100)
        with ServerThread(config) as server:
            client = RawClient(server.port)
            client.connect("1.2", b"heart-beat:100,0\n")
            for _ in range(8):
                time.sleep(0.08)
                client.send(b"\n")
            client.send(b"SUBSCRIBE\nid:1\ndestination:/queue/hb\nreceipt:r\n\n\0")
            assert client.next_frame().get("receipt-id") == "r"

    def test_floor_raises_requested_interval(self) -> None:
        config = ServerConfig(port=0, ws_port=0, heartbeat=(0, 10), heartbeat_floor=400)
        with ServerThread(config) as server:
            client = RawClient(server.port)
            client.connect("1.2", b"heart-beat:10,0\n")
            time.sleep(0.3)  # silent longer than 2 x 10 ms, shorter than 2 x 400 ms
            client.send(b"SUBSCRIBE\nid:1\ndestination:/queue/f\nreceipt:r\n\n\0")
            assert client.next_frame().get("receipt-id") == "r"


def test_virtual_hosts() -> None:
    with ServerThread(ServerConfig(port=0, ws_port=0, virtual_hosts=["/prod"])) as server:
        client = RawClient(server.port)
        client.send(b"CONNECT\naccept-version:1.2\nhost:/dev\n\n\0")
        assert client.next_frame().get("message") == "unknown virtual host"
        ok = RawClient(server.port)
        ok.send(b"CONNECT\naccept-version:1.2\nhost:/prod\n\n\0")
        assert ok.next_frame().command == "CONNECTED"


def test_any_host_is_accepted_by_default(server: ServerThread) -> None:
    client = RawClient(server.port)
    client.send(b"CONNECT\naccept-version:1.2\nhost:some.other.name\n\n\0")
    assert client.next_frame().command == "CONNECTED"


def test_slow_topic_consumer_is_disconnected_by_policy() -> None:
    config = ServerConfig(
        port=0,
        ws_port=0,
        outbound_buffer=64 * 1024,
        broker=BrokerConfig(
            topic_pending_messages=10, slow_consumer_policy=SlowConsumerPolicy.DISCONNECT
        ),
    )
    with ServerThread(config) as server:
        slow = RawClient(server.port, rcvbuf=4096)
        slow.connect()
        slow.send(b"SUBSCRIBE\nid:1\ndestination:/topic/firehose\nreceipt:r\n\n\0")
        assert slow.next_frame().command == "RECEIPT"
        producer = RawClient(server.port)
        producer.connect()
        body = b"x" * 16384
        frame = b"SEND\ndestination:/topic/firehose\ncontent-length:16384\n\n" + body + b"\0"
        for _ in range(300):
            producer.send(frame)
        producer.send(b"SUBSCRIBE\nid:1\ndestination:/queue/sync\nreceipt:done\n\n\0")
        assert producer.next_frame(10).get("receipt-id") == "done"
        commands = []
        slow.sock.settimeout(5)
        while True:
            try:
                frame_ = slow.next_frame()
            except (TimeoutError, EOFError, ConnectionResetError):
                break
            commands.append(frame_.command)
            if frame_.command == "ERROR":
                assert frame_.get("message") == "slow consumer"
                break
        assert "ERROR" in commands
        assert server.broker is not None
        assert server.broker.stats.dropped_slow_consumer >= 1


def test_required_heartbeat_reclaims_clients_that_negotiate_none() -> None:
    config = ServerConfig(port=0, ws_port=0, heartbeat_required=100, heartbeat_floor=100)
    with ServerThread(config) as server:
        client = RawClient(server.port)
        client.connect("1.2", b"heart-beat:0,0\n")
        assert client.next_frame().get("message") == "heart-beat timeout"
        assert client.closed_by_server()
