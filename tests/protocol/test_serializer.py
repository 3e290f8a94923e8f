"""Serializing frames, escaping per version."""

from __future__ import annotations

import pytest

from stompbox.protocol import Frame, LocalProtocolError, escape, serialize, unescape


def test_message_with_body_gets_content_length() -> None:
    frame = Frame("MESSAGE", (("destination", "/queue/a"), ("message-id", "1")), b"hi\x00")
    assert serialize(frame) == (
        b"MESSAGE\ndestination:/queue/a\nmessage-id:1\ncontent-length:3\n\nhi\x00\x00"
    )


def test_empty_body_has_no_content_length() -> None:
    assert serialize(Frame("RECEIPT", (("receipt-id", "77"),))) == b"RECEIPT\nreceipt-id:77\n\n\x00"


def test_no_headers() -> None:
    assert serialize(Frame("DISCONNECT")) == b"DISCONNECT\n\n\x00"
    assert serialize(Frame("SEND", (), b"x")) == b"SEND\ncontent-length:1\n\nx\x00"


def test_callers_content_length_is_replaced_by_the_true_one() -> None:
    frame = Frame("SEND", (("destination", "/a"), ("content-length", "99")), b"abc")
    assert serialize(frame) == b"SEND\ndestination:/a\ncontent-length:3\n\nabc\x00"


def test_escaping_1_2() -> None:
    frame = Frame("MESSAGE", (("a:b", "c\\d\ne\rf"),))
    assert serialize(frame, "1.2") == b"MESSAGE\na\\cb:c\\\\d\\ne\\rf\n\n\x00"


def test_escaping_1_1_leaves_cr() -> None:
    frame = Frame("MESSAGE", (("k", "a:b\nc\r"),))
    assert serialize(frame, "1.1") == b"MESSAGE\nk:a\\cb\\nc\r\n\n\x00"


def test_1_0_cannot_carry_a_line_feed() -> None:
    with pytest.raises(LocalProtocolError, match="line break"):
        serialize(Frame("MESSAGE", (("k", "a\nb"),)), "1.0")
    assert serialize(Frame("MESSAGE", (("k", "a:b\\"),)), "1.0") == b"MESSAGE\nk:a:b\\\n\n\x00"


def test_connect_headers_are_never_escaped() -> None:
    frame = Frame("CONNECT", (("passcode", "a:b\\c"),))
    assert serialize(frame, "1.2") == b"CONNECT\npasscode:a:b\\c\n\n\x00"
    with pytest.raises(LocalProtocolError):
        serialize(Frame("CONNECTED", (("k", "a\nb"),)), "1.2")


@pytest.mark.parametrize("command", ["", "SE\nND", "X\r", "A\x00"])
def test_invalid_commands(command: str) -> None:
    with pytest.raises(LocalProtocolError, match="invalid command"):
        serialize(Frame(command))


def test_nul_in_header_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="NUL"):
        serialize(Frame("SEND", (("k", "a\x00"),)))


def test_empty_header_name_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="empty header name"):
        serialize(Frame("SEND", (("", "a:b"),)))


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_escape_round_trip(version: str) -> None:
    text = "a:b\\c\nd" + ("\re" if version == "1.2" else "")
    assert unescape(escape(text, version), version) == text


def test_frame_helpers() -> None:
    frame = Frame("SEND", (("a", "1"), ("b", "2")))
    assert frame.with_headers([("b", "3"), ("c", "4")]).headers == (
        ("b", "3"),
        ("c", "4"),
        ("a", "1"),
    )
    assert frame.get("missing") is None
    assert frame.get("missing", "x") == "x"
