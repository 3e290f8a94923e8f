"""Text a peer's STOMP version cannot carry: never a broken stream, never a crash.

The rule (docs/stomp-support.md): a sender's header that a subscriber's version cannot
write is left out of that subscriber's copy only; a header the server must echo back in a
form the client's version cannot write is refused at input, with an ERROR that names it;
an ERROR frame itself is always written.
"""

from __future__ import annotations

import logging

import pytest

from stompbox.protocol import (
    ConnectionState,
    Frame,
    FrameParser,
    OutgoingMessage,
    RemoteProtocolError,
    ServerConnection,
    fan_out,
)


def connected(version: str) -> ServerConnection:
    server = ServerConnection()
    server.receive_data(f"CONNECT\naccept-version:{version}\nhost:x\n\n\0".encode())
    [connect] = server.events()
    assert isinstance(connect, Frame)
    server.accept(session="s")
    server.data_to_send()
    return server


def received(server: ServerConnection, version: str | None) -> list[Frame]:
    """Parse what the server queued as its peer of ``version`` would: the whole stream."""
    parser = FrameParser(version)
    parser.feed(server.data_to_send())
    frames = parser.frames()
    assert parser.buffered == 0, "a partial frame was left in the stream"
    return frames


def refused(server: ServerConnection, data: bytes, version: str | None) -> Frame:
    server.receive_data(data)
    with pytest.raises(RemoteProtocolError):
        list(server.events())
    assert server.state is ConnectionState.CLOSED
    [error] = received(server, version)
    assert error.command == "ERROR"
    return error


# Headers a 1.2 publisher can send that STOMP 1.0 has no way to write.
UNWRITABLE_IN_1_0 = (("x:y", "colon in name"), ("lf", "a\nb"), ("cr", "a\rb"), ("n\nm", "v"))


class TestMessageHeaders:
    def message(self, message_id: str = "m-1") -> OutgoingMessage:
        headers = (("before", "1"), *UNWRITABLE_IN_1_0, ("after", "2"))
        return OutgoingMessage("/topic/t", message_id, headers, b"body")

    def test_left_out_of_the_1_0_copy_only(self) -> None:
        old, new = connected("1.0"), connected("1.2")
        full = fan_out(self.message(), [(old, "a"), (new, "b")])
        assert full == []
        [to_old] = received(old, "1.0")
        assert to_old.headers == (
            ("subscription", "a"),
            ("destination", "/topic/t"),
            ("message-id", "m-1"),
            ("before", "1"),
            ("after", "2"),
            ("content-length", "4"),
        )
        assert to_old.body == b"body"
        [to_new] = received(new, "1.2")
        assert to_new.headers[3:-1] == (("before", "1"), *UNWRITABLE_IN_1_0, ("after", "2"))

    def test_the_stream_stays_whole_for_the_next_message(self) -> None:
        old = connected("1.0")
        old.send_message("a", None, self.message("m-1"))
        old.send_message("a", None, OutgoingMessage("/topic/t", "m-2", (), b"next"))
        frames = received(old, "1.0")
        assert [(f.command, f.get("message-id"), f.body) for f in frames] == [
            ("MESSAGE", "m-1", b"body"),
            ("MESSAGE", "m-2", b"next"),
        ]

    def test_one_log_line_per_message_and_version(self, caplog: pytest.LogCaptureFixture) -> None:
        message = self.message()
        caplog.set_level(logging.INFO, logger="stompbox.protocol")
        for _ in range(3):
            connected("1.0").send_message("a", None, message)
            connected("1.2").send_message("a", None, message)
        [record] = caplog.records
        assert "m-1" in record.getMessage()
        assert "STOMP 1.0" in record.getMessage()
        assert "'x:y'" in record.getMessage()

    def test_1_1_carries_what_it_can_escape(self) -> None:
        server = connected("1.1")
        server.send_message("a", None, self.message())
        [frame] = received(server, "1.1")
        assert frame.headers[3:-1] == (("before", "1"), *UNWRITABLE_IN_1_0, ("after", "2"))

    def test_a_message_frame_an_application_writes_follows_the_same_rule(self) -> None:
        server = connected("1.0")
        headers = (("destination", "/queue/a"), ("message-id", "1"), ("x:y", "1"))
        server.send(Frame("MESSAGE", headers, b"hi"))
        [frame] = received(server, "1.0")
        assert frame.headers == (
            ("destination", "/queue/a"),
            ("message-id", "1"),
            ("content-length", "2"),
        )


class TestEchoedHeadersAreCheckedAtInput:
    def test_1_0_receipt_with_cr(self) -> None:
        error = refused(connected("1.0"), b"SEND\ndestination:/a\nreceipt:r\r1\n\nx\0", "1.0")
        assert error.get("message") == (
            "receipt header cannot be carried in STOMP 1.0: it contains CR"
        )
        assert error.get("receipt-id") is None

    def test_1_0_subscription_id_with_cr(self) -> None:
        error = refused(connected("1.0"), b"SUBSCRIBE\ndestination:/a\nid:s\r1\n\n\0", "1.0")
        assert error.get("message") == "id header cannot be carried in STOMP 1.0: it contains CR"

    @pytest.mark.parametrize("version", ["1.1", "1.2"])
    def test_receipt_with_cr_is_echoed_where_the_version_can(self, version: str) -> None:
        server = connected(version)
        server.receive_data(b"SEND\ndestination:/a\nreceipt:r\\n1\n\n\0")
        [frame] = server.events()
        assert isinstance(frame, Frame)
        server.send_receipt(frame)
        [receipt] = received(server, version)
        assert receipt.get("receipt-id") == "r\n1"

    @pytest.mark.parametrize(
        ("command", "destination", "what"),
        [("SEND", b"/topic/a\\nb", "LF"), ("SUBSCRIBE", b"/topic/a\\rb", "CR")],
    )
    def test_destination_with_a_line_break(
        self, command: str, destination: bytes, what: str
    ) -> None:
        frame = command.encode() + b"\nid:1\ndestination:" + destination + b"\n\n\0"
        error = refused(connected("1.2"), frame, "1.2")
        assert error.get("message") == (
            f"destination header cannot be carried in STOMP 1.0: it contains {what}"
        )


class TestErrorsAreAlwaysWritten:
    def test_connect_with_a_cr_in_accept_version(self) -> None:
        error = refused(ServerConnection(), b"CONNECT\naccept-version:9\r9\n\n\0", None)
        assert error.get("message") == (
            "no common protocol version: client accepts 9\\r9, server supports 1.0,1.1,1.2"
        )

    def test_refused_connect_leaves_out_a_receipt_it_cannot_write(self) -> None:
        error = refused(ServerConnection(), b"CONNECT\naccept-version:9\nreceipt:a\rb\n\n\0", None)
        assert error.get("receipt-id") is None
        assert "receipt-id" in error.body.decode()

    def test_send_error_with_line_breaks_on_1_0(self) -> None:
        server = connected("1.0")
        frame = Frame("SEND", (("receipt", "r\r"),))
        server.send_error("bad\nthing", "detail\r\n", frame=frame)
        [error] = received(server, "1.0")
        assert error.get("message") == "bad\\nthing"
        assert error.get("receipt-id") is None
        assert error.body.startswith(b"detail\r\n\n(header 'receipt-id' is left out")
