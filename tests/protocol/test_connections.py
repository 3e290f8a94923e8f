"""The server and client state machines, driven with bytes and explicit times."""

from __future__ import annotations

import pytest

from stompbox.protocol import (
    ClientConnection,
    ConnectionClosed,
    ConnectionState,
    ConnectTimeout,
    Frame,
    FrameParser,
    HeartbeatTimeout,
    LimitExceeded,
    LocalProtocolError,
    OutgoingMessage,
    RemoteProtocolError,
    ServerConnection,
    negotiate_heartbeat,
    negotiate_version,
    parse_heartbeat,
)
from stompbox.protocol.heartbeat import honour_heartbeat

from .pair import ConnectionPair


def server_reply(server: ServerConnection) -> list[Frame]:
    parser = FrameParser("1.2")
    parser.feed(server.data_to_send())
    return parser.frames()


def feed(server: ServerConnection, data: bytes) -> list[object]:
    server.receive_data(data)
    return list(server.events())


def connected_server(version: str = "1.2", **kwargs: object) -> ServerConnection:
    server = ServerConnection(**kwargs)  # type: ignore[arg-type]
    [connect] = feed(server, f"CONNECT\naccept-version:{version}\nhost:x\n\n\0".encode())
    assert isinstance(connect, Frame)
    server.accept(session="s")
    server.data_to_send()
    return server


def expect_error(server: ServerConnection, data: bytes, message: str) -> Frame:
    server.receive_data(data)
    with pytest.raises(RemoteProtocolError):
        list(server.events())
    assert server.state is ConnectionState.CLOSED
    [error] = server_reply(server)
    assert error.command == "ERROR"
    assert message in (error.get("message") or "")
    return error


class TestVersionNegotiation:
    @pytest.mark.parametrize(
        ("accept", "expected"),
        [(None, "1.0"), ("1.0", "1.0"), ("1.1", "1.1"), ("1.0,1.1,1.2", "1.2"), ("1.1,2.0", "1.1")],
    )
    def test_negotiate(self, accept: str | None, expected: str) -> None:
        assert negotiate_version(accept, ("1.0", "1.1", "1.2")) == expected

    def test_no_common_version_gets_error_with_version_header(self) -> None:
        server = ServerConnection()
        error = expect_error(
            server, b"CONNECT\naccept-version:2.0,2.1\nhost:x\n\n\0", "no common protocol version"
        )
        assert error.get("version") == "1.0,1.1,1.2"

    def test_connected_carries_version_heartbeat_session_server(self) -> None:
        server = ServerConnection(heartbeat=(5000, 6000), heartbeat_floor=100)
        feed(server, b"CONNECT\naccept-version:1.1,1.2\nhost:x\nheart-beat:100,200\n\n\0")
        server.accept(session="abc")
        [connected] = server_reply(server)
        assert connected.command == "CONNECTED"
        assert connected.get("version") == "1.2"
        assert connected.get("heart-beat") == "200,100"  # the client's, swapped
        assert connected.get("session") == "abc"
        assert connected.get("server") == "stompbox"
        assert server.version == "1.2"

    def test_1_0_client_gets_no_version_header(self) -> None:
        server = ServerConnection()
        feed(server, b"CONNECT\nlogin:a\npasscode:b\n\n\0")
        server.accept()
        [connected] = server_reply(server)
        assert connected.get("version") is None
        assert server.version == "1.0"

    def test_stomp_frame_connects_too(self) -> None:
        server = ServerConnection()
        [frame] = feed(server, b"STOMP\naccept-version:1.2\nhost:x\n\n\0")
        assert isinstance(frame, Frame) and frame.command == "STOMP"
        server.accept()
        assert server.state is ConnectionState.CONNECTED


class TestHeartbeatNegotiation:
    @pytest.mark.parametrize(
        ("ours", "theirs", "expected"),
        [
            ((0, 0), (1000, 1000), (0, 0)),
            ((1000, 0), (0, 500), (1000, 0)),
            ((100, 200), (300, 400), (400, 300)),
            ((5000, 5000), (0, 0), (0, 0)),
            ((0, 1000), (2000, 0), (0, 2000)),
        ],
    )
    def test_spec_arithmetic(
        self, ours: tuple[int, int], theirs: tuple[int, int], expected: tuple[int, int]
    ) -> None:
        assert negotiate_heartbeat(ours, theirs) == expected

    @pytest.mark.parametrize("value", ["1", "a,b", "1,2,3", "-1,0", "", "\x1d1000,0", "²,0"])
    def test_invalid_header(self, value: str) -> None:
        with pytest.raises(RemoteProtocolError, match="invalid heart-beat"):
            parse_heartbeat(value)

    def test_invalid_header_in_connect_gets_error(self) -> None:
        expect_error(ServerConnection(), b"CONNECT\nheart-beat:x\n\n\0", "invalid heart-beat")

    def test_server_sends_eols_on_time_and_frames_reset_the_timer(self) -> None:
        server = ServerConnection(heartbeat=(1000, 0))
        feed(server, b"CONNECT\naccept-version:1.2\nheart-beat:0,1000\n\n\0")
        server.accept(0.0)
        server.data_to_send(0.0)
        assert server.next_deadline() == 1.0
        server.tick(0.5)
        assert server.data_to_send(0.5) == b""
        server.tick(1.0)
        assert server.data_to_send(1.0) == b"\n"
        server.send(Frame("RECEIPT", (("receipt-id", "1"),)))
        server.data_to_send(1.5)
        server.tick(2.0)
        assert server.data_to_send(2.0) == b""
        server.tick(2.5)
        assert server.data_to_send(2.5) == b"\n"

    def test_silent_client_times_out_after_grace(self) -> None:
        server = ServerConnection(heartbeat=(0, 1000), heartbeat_grace=2.0)
        feed(server, b"CONNECT\naccept-version:1.2\nheart-beat:1000,0\n\n\0")
        server.accept(0.0)
        server.data_to_send(0.0)
        server.receive_data(b"\n", 1.5)
        assert list(server.events()) == []
        assert server.tick(3.4) is None
        assert server.next_deadline() == 3.5
        timeout = server.tick(3.6)
        assert isinstance(timeout, HeartbeatTimeout)
        assert timeout.silent_for == pytest.approx(2.1)
        [error] = server_reply(server)
        assert error.get("message") == "heart-beat timeout"
        assert server.closed

    def test_floor_raises_tiny_intervals(self) -> None:
        server = ServerConnection(heartbeat=(1, 1), heartbeat_floor=1000)
        feed(server, b"CONNECT\naccept-version:1.2\nheart-beat:1,1\n\n\0")
        server.accept(0.0)
        assert server.heartbeat.send_interval == 1.0
        assert server.heartbeat.receive_interval == 1.0

    def test_client_side_heartbeats(self) -> None:
        pair = ConnectionPair.connected(
            ClientConnection(heartbeat=(1500, 2000)), ServerConnection(heartbeat=(1, 1))
        )
        assert pair.client.heartbeat.send_interval == 1.5
        assert pair.client.heartbeat.receive_interval == 2.0
        pair.client.tick(1.5)
        assert pair.client.data_to_send(1.5) == b"\n"
        assert isinstance(pair.client.tick(4.1), HeartbeatTimeout)

    @pytest.mark.parametrize(
        ("theirs", "ours", "floor", "expected"),
        [
            ((1000, 1000), (10_000, 10_000), 1000, (1000, 1000)),  # the client's, not ours
            ((60_000, 30_000), (10_000, 10_000), 1000, (30_000, 60_000)),
            ((10, 20), (10_000, 10_000), 1000, (1000, 1000)),  # the floor
            ((0, 5000), (10_000, 10_000), 1000, (5000, 0)),  # 0 stays 0
            ((5000, 0), (10_000, 10_000), 1000, (0, 5000)),
            ((0, 0), (10_000, 10_000), 1000, (0, 0)),
            ((5000, 5000), (0, 10_000), 1000, (0, 5000)),  # ours: 0 switches a direction off
            ((5000, 5000), (10_000, 0), 1000, (5000, 0)),
            ((5000, 5000), (0, 0), 1000, (0, 0)),
        ],
    )
    def test_server_honours_the_client_down_to_the_floor(
        self,
        theirs: tuple[int, int],
        ours: tuple[int, int],
        floor: int,
        expected: tuple[int, int],
    ) -> None:
        assert honour_heartbeat(theirs, ours, floor) == expected

    @pytest.mark.parametrize(
        ("client", "server", "floor"),
        [
            ((1000, 1000), (10_000, 10_000), 1000),
            ((250, 4000), (10_000, 10_000), 1000),
            ((0, 3000), (10_000, 10_000), 500),
            ((3000, 3000), (0, 10_000), 1000),
            ((100, 100), (5, 5), 1),
        ],
    )
    def test_both_sides_agree_on_what_connected_announces(
        self, client: tuple[int, int], server: tuple[int, int], floor: int
    ) -> None:
        pair = ConnectionPair.connected(
            ClientConnection(heartbeat=client),
            ServerConnection(heartbeat=server, heartbeat_floor=floor),
        )
        assert pair.client.heartbeat.send_interval == pair.server.heartbeat.receive_interval
        assert pair.client.heartbeat.receive_interval == pair.server.heartbeat.send_interval
        expected = honour_heartbeat(client, server, floor)
        assert pair.server.heartbeat.send_interval == expected[0] / 1000
        assert pair.server.heartbeat.receive_interval == expected[1] / 1000


class TestServerRules:
    def test_frame_before_connect_is_refused(self) -> None:
        expect_error(ServerConnection(), b"SEND\ndestination:/a\n\n\0", "expected a CONNECT")

    def test_second_connect_is_refused(self) -> None:
        server = connected_server()
        expect_error(server, b"CONNECT\naccept-version:1.2\n\n\0", "already connected")

    def test_unknown_command(self) -> None:
        expect_error(connected_server(), b"FOO\n\n\0", "unknown command 'FOO'")

    def test_error_echoes_receipt(self) -> None:
        error = expect_error(connected_server(), b"SEND\nreceipt:r9\n\n\0", "destination")
        assert error.get("receipt-id") == "r9"

    @pytest.mark.parametrize(
        ("version", "frame", "message"),
        [
            ("1.2", b"SUBSCRIBE\ndestination:/a\n\n\0", "'id'"),
            ("1.1", b"SUBSCRIBE\ndestination:/a\n\n\0", "'id'"),
            ("1.2", b"SUBSCRIBE\nid:1\n\n\0", "'destination'"),
            ("1.2", b"SUBSCRIBE\nid:1\ndestination:/a\nack:bogus\n\n\0", "invalid ack mode"),
            ("1.0", b"SUBSCRIBE\ndestination:/a\nack:individual\n\n\0", "invalid ack"),
            ("1.2", b"UNSUBSCRIBE\n\n\0", "'id'"),
            ("1.0", b"UNSUBSCRIBE\n\n\0", "'id' or a 'destination'"),
            ("1.2", b"ACK\nmessage-id:1\nsubscription:1\n\n\0", "'id'"),
            ("1.1", b"ACK\nid:1\n\n\0", "'message-id'"),
            ("1.1", b"ACK\nmessage-id:1\n\n\0", "'subscription'"),
            ("1.0", b"ACK\n\n\0", "'message-id'"),
            ("1.0", b"NACK\nmessage-id:1\n\n\0", "not a STOMP 1.0 command"),
            ("1.2", b"BEGIN\n\n\0", "'transaction'"),
            ("1.2", b"COMMIT\n\n\0", "'transaction'"),
            ("1.2", b"ABORT\n\n\0", "'transaction'"),
            ("1.2", b"SEND\n\n\0", "'destination'"),
        ],
    )
    def test_required_headers(self, version: str, frame: bytes, message: str) -> None:
        expect_error(connected_server(version), frame, message)

    @pytest.mark.parametrize(
        ("version", "frame"),
        [
            ("1.0", b"SUBSCRIBE\ndestination:/a\n\n\0"),
            ("1.0", b"SUBSCRIBE\ndestination:/a\nack:client-individual\n\n\0"),  # extension
            ("1.0", b"UNSUBSCRIBE\ndestination:/a\n\n\0"),
            ("1.0", b"ACK\nmessage-id:1\n\n\0"),
            ("1.1", b"ACK\nmessage-id:1\nsubscription:2\n\n\0"),
            ("1.1", b"NACK\nmessage-id:1\nsubscription:2\n\n\0"),
            ("1.2", b"ACK\nid:1\n\n\0"),
            ("1.2", b"NACK\nid:1\n\n\0"),
        ],
    )
    def test_valid_per_version(self, version: str, frame: bytes) -> None:
        [got] = feed(connected_server(version), frame)
        assert isinstance(got, Frame)

    def test_pipelined_frames_after_connect(self) -> None:
        server = ServerConnection()
        server.receive_data(
            b"CONNECT\naccept-version:1.2\n\n\0SUBSCRIBE\nid:1\ndestination:/a\n\n\0"
        )
        events = server.events()
        assert next(events).command == "CONNECT"  # type: ignore[union-attr]
        server.accept()
        assert next(events).command == "SUBSCRIBE"  # type: ignore[union-attr]

    def test_frames_behind_a_connect_wait_while_it_is_checked(self) -> None:
        """A server may answer a CONNECT later (a password hash takes a while): it stops
        reading events at the CONNECT, and what came behind it is there afterwards."""
        server = ServerConnection()
        server.receive_data(
            b"CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:/a\n\nx\0"
            b"SUBSCRIBE\nid:1\ndestination:/b\n\n\0"
        )
        [connect] = [next(server.events())]  # the caller leaves the loop at the CONNECT
        assert isinstance(connect, Frame) and connect.command == "CONNECT"
        server.receive_data(b"UNSUBSCRIBE\nid:1\n\n\0")  # more arrives meanwhile
        server.accept()
        later = [e.command for e in server.events() if isinstance(e, Frame)]
        assert later == ["SEND", "SUBSCRIBE", "UNSUBSCRIBE"]

    def test_frames_behind_a_refused_connect_are_dropped(self) -> None:
        server = ServerConnection()
        server.receive_data(b"CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:/a\n\n\0")
        next(server.events())
        server.reject("authentication failed")
        assert [e for e in server.events() if isinstance(e, Frame)] == []

    def test_reading_on_before_answering_connect_is_a_local_error(self) -> None:
        server = ServerConnection()
        server.receive_data(b"CONNECT\n\n\0SEND\ndestination:/a\n\n\0")
        events = server.events()
        next(events)
        with pytest.raises(LocalProtocolError):
            next(events)

    def test_reject(self) -> None:
        server = ServerConnection()
        feed(server, b"CONNECT\nlogin:a\npasscode:b\n\n\0")
        server.reject("access refused", "bad login")
        [error] = server_reply(server)
        assert error.get("message") == "access refused"
        assert error.body == b"bad login"
        assert server.closed

    def test_receipts_and_disconnect(self) -> None:
        server = connected_server()
        server.receive_data(b"SEND\ndestination:/a\nreceipt:1\n\n\0DISCONNECT\nreceipt:2\n\n\0")
        frames = [e for e in server.events() if isinstance(e, Frame)]
        for frame in frames:
            server.send_receipt(frame)
        assert [f.get("receipt-id") for f in server_reply(server)] == ["1", "2"]
        assert server.closed

    def test_frames_after_disconnect_are_ignored(self) -> None:
        server = connected_server()
        events = feed(server, b"DISCONNECT\n\n\0SEND\ndestination:/a\n\n\0")
        assert [e.command for e in events] == ["DISCONNECT"]  # type: ignore[attr-defined]

    def test_pre_connect_limit_is_small(self) -> None:
        server = ServerConnection()
        server.receive_data(b"CONNECT\n" + b"h:" + b"x" * 8000 + b"\n" + b"g:" + b"y" * 8200)
        with pytest.raises(LimitExceeded):
            list(server.events())
        [error] = server_reply(server)
        assert "limit of" in (error.get("message") or "")

    def test_connect_timeout(self) -> None:
        server = ServerConnection(now=10.0, connect_timeout=5.0)
        assert server.next_deadline() == 15.0
        assert server.tick(14.9) is None
        assert isinstance(server.tick(15.0), ConnectTimeout)
        [error] = server_reply(server)
        assert error.get("message") == "connect timeout"

    def test_parse_error_gets_error_frame_with_offset(self) -> None:
        error = expect_error(connected_server(), b"SEND\nbroken\n\n\0", "malformed frame")
        assert b"at byte" in error.body

    def test_eof_reports_connection_closed(self) -> None:
        server = connected_server()
        server.receive_data(b"")
        assert list(server.events()) == [ConnectionClosed(clean=False)]
        assert server.closed

    def test_send_after_close_is_a_local_error(self) -> None:
        server = connected_server()
        server.send_error("bye")
        with pytest.raises(LocalProtocolError):
            server.send(Frame("RECEIPT", (("receipt-id", "1"),)))


class TestClient:
    def test_connect_and_message_flow(self) -> None:
        pair = ConnectionPair.connected()
        assert pair.client.version == "1.2"
        assert pair.client.session == "s-1"
        pair.client.send(Frame("SUBSCRIBE", (("id", "0"), ("destination", "/queue/a"))))
        [sub] = pair.to_server()
        assert sub.command == "SUBSCRIBE"  # type: ignore[union-attr]
        pair.server.send(
            Frame(
                "MESSAGE",
                (("destination", "/queue/a"), ("message-id", "1"), ("subscription", "0")),
                b"hi",
            )
        )
        [message] = pair.to_client()
        assert isinstance(message, Frame) and message.body == b"hi"

    def test_client_refuses_frames_the_version_forbids(self) -> None:
        pair = ConnectionPair.connected()
        with pytest.raises(LocalProtocolError, match="'id'"):
            pair.client.send(Frame("SUBSCRIBE", (("destination", "/a"),)))

    def test_client_cannot_send_before_connected(self) -> None:
        client = ClientConnection()
        with pytest.raises(LocalProtocolError):
            client.send(Frame("SEND", (("destination", "/a"),)))

    def test_error_closes(self) -> None:
        client = ClientConnection()
        client.connect("x")
        client.receive_data(b"ERROR\nmessage:nope\n\n\0")
        [error] = list(client.events())
        assert isinstance(error, Frame) and error.command == "ERROR"
        assert client.closed

    def test_invalid_server_frame(self) -> None:
        pair = ConnectionPair.connected()
        pair.client.receive_data(b"MESSAGE\ndestination:/a\n\n\0")
        with pytest.raises(RemoteProtocolError, match="message-id"):
            list(pair.client.events())

    def test_disconnect_with_receipt(self) -> None:
        pair = ConnectionPair.connected()
        pair.client.send(Frame("DISCONNECT", (("receipt", "bye"),)))
        [disconnect] = pair.to_server()
        assert isinstance(disconnect, Frame)
        pair.server.send_receipt(disconnect)
        [receipt] = pair.to_client()
        assert receipt.get("receipt-id") == "bye"  # type: ignore[union-attr]
        assert pair.client.closed and pair.server.closed

    def test_escaped_headers_round_trip_through_the_pair(self) -> None:
        pair = ConnectionPair.connected()
        pair.client.send(Frame("SEND", (("destination", "/a"), ("weird", "a:b\nc\\d\re"))))
        [send] = pair.to_server()
        assert send.get("weird") == "a:b\nc\\d\re"  # type: ignore[union-attr]


class TestOutput:
    """Deliveries: the protocol frames every MESSAGE, shares the encoded tail, and tells
    the caller when its output is full."""

    def message(self, body: bytes = b"hi") -> OutgoingMessage:
        return OutgoingMessage("/queue/a", "m-1", (("content-type", "text/plain"),), body)

    def test_message_frame_per_version(self) -> None:
        message = self.message()
        new = connected_server("1.2")
        new.send_message("sub:1", "m-1.1", message)
        assert new.data_to_send() == (
            b"MESSAGE\nsubscription:sub\\c1\nack:m-1.1\ndestination:/queue/a\nmessage-id:m-1\n"
            b"content-type:text/plain\ncontent-length:2\n\nhi\0"
        )
        old = connected_server("1.0")
        old.send_message("s", None, message)
        assert old.data_to_send() == (
            b"MESSAGE\nsubscription:s\ndestination:/queue/a\nmessage-id:m-1\n"
            b"content-type:text/plain\ncontent-length:2\n\nhi\0"
        )

    def test_subscribers_share_one_encoded_tail(self) -> None:
        message = self.message()
        first, second = connected_server(), connected_server()
        first.send_message("a", None, message)
        second.send_message("b", None, message)
        assert first.take_output()[-1] is second.take_output()[-1]

    def test_redelivery_is_shown(self) -> None:
        message = self.message()
        server = connected_server()
        server.send_message("a", None, message)
        server.take_output()
        message.redeliver()
        server.send_message("a", None, message)
        [frame] = server_reply(server)
        assert frame.get("redelivered") == "true"
        assert frame.get("redelivery-count") == "1"

    def test_output_limit_says_when_full(self) -> None:
        message = self.message(b"x" * 100)
        server = connected_server(output_limit=300)
        assert server.send_message("a", None, message)
        assert server.buffered < 300
        assert not server.send_message("a", None, message)
        assert server.buffered >= 300
        server.take_output()
        assert server.buffered == 0
        assert server.send_message("a", None, message)

    def test_on_output_is_called_once_until_output_is_taken(self) -> None:
        server = connected_server()
        calls: list[int] = []
        server.on_output = lambda: calls.append(server.buffered)
        server.send_message("a", None, self.message())
        server.send_receipt(Frame("SEND", (("receipt", "r"),)))
        server.send_message("a", None, self.message())
        assert calls == [0]
        chunks = server.take_output(5.0)
        assert server.heartbeat.last_sent == 5.0
        assert b"RECEIPT" in b"".join(chunks)
        server.send_receipt(Frame("SEND", (("receipt", "r"),)))
        assert calls == [0, 0]
