"""The parser against the STOMP 1.2 specification's example frames and its grammar."""

from __future__ import annotations

import pytest

from stompbox.protocol import Frame, FrameParser, LimitExceeded, Limits, RemoteProtocolError


def parse(data: bytes, version: str | None = "1.2", limits: Limits | None = None) -> list[Frame]:
    parser = FrameParser(version, limits) if limits else FrameParser(version)
    parser.feed(data)
    return parser.frames()


def parse_one(data: bytes, version: str | None = "1.2") -> Frame:
    frames = parse(data, version)
    assert len(frames) == 1
    return frames[0]


ERROR_BODY = (
    b"The message:\n-----\nMESSAGE\ndestined:/queue/a\nreceipt:message-12345\n\n"
    b"Hello queue a!\n-----\nDid not contain a destination header, which is REQUIRED\n"
    b"for message propagation.\n"
)

SPEC_EXAMPLES = [
    (
        b"CONNECT\naccept-version:1.2\nhost:stomp.github.org\n\n\x00",
        Frame("CONNECT", (("accept-version", "1.2"), ("host", "stomp.github.org"))),
        None,
    ),
    (
        b"STOMP\naccept-version:1.2\nhost:stomp.github.org\n\n\x00",
        Frame("STOMP", (("accept-version", "1.2"), ("host", "stomp.github.org"))),
        None,
    ),
    (b"CONNECTED\nversion:1.2\n\n\x00", Frame("CONNECTED", (("version", "1.2"),)), None),
    (
        b"ERROR\nversion:1.2,2.1\ncontent-type:text/plain\n\n"
        b"Supported protocol versions are 1.2 2.1\x00",
        Frame(
            "ERROR",
            (("version", "1.2,2.1"), ("content-type", "text/plain")),
            b"Supported protocol versions are 1.2 2.1",
        ),
        None,
    ),
    (
        b"CONNECT\naccept-version:1.0,1.1,2.0\nhost:stomp.github.org\n\n\x00",
        Frame("CONNECT", (("accept-version", "1.0,1.1,2.0"), ("host", "stomp.github.org"))),
        None,
    ),
    (
        b"CONNECT\naccept-version:1.2\nhost:stomp.github.org\nheart-beat:0,1000\n\n\x00",
        Frame(
            "CONNECT",
            (
                ("accept-version", "1.2"),
                ("host", "stomp.github.org"),
                ("heart-beat", "0,1000"),
            ),
        ),
        None,
    ),
    (
        b"SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\x00",
        Frame(
            "SEND",
            (("destination", "/queue/a"), ("content-type", "text/plain")),
            b"hello queue a",
        ),
        "1.2",
    ),
    (
        b"SEND\ndestination:/queue/a\nreceipt:message-12345\n\nhello queue a\x00",
        Frame(
            "SEND",
            (("destination", "/queue/a"), ("receipt", "message-12345")),
            b"hello queue a",
        ),
        "1.2",
    ),
    (
        b"SUBSCRIBE\nid:0\ndestination:/queue/foo\nack:client\n\n\x00",
        Frame("SUBSCRIBE", (("id", "0"), ("destination", "/queue/foo"), ("ack", "client"))),
        "1.2",
    ),
    (b"UNSUBSCRIBE\nid:0\n\n\x00", Frame("UNSUBSCRIBE", (("id", "0"),)), "1.2"),
    (
        b"ACK\nid:12345\ntransaction:tx1\n\n\x00",
        Frame("ACK", (("id", "12345"), ("transaction", "tx1"))),
        "1.2",
    ),
    (
        b"NACK\nid:12345\ntransaction:tx1\n\n\x00",
        Frame("NACK", (("id", "12345"), ("transaction", "tx1"))),
        "1.2",
    ),
    (b"BEGIN\ntransaction:tx1\n\n\x00", Frame("BEGIN", (("transaction", "tx1"),)), "1.2"),
    (b"COMMIT\ntransaction:tx1\n\n\x00", Frame("COMMIT", (("transaction", "tx1"),)), "1.2"),
    (b"ABORT\ntransaction:tx1\n\n\x00", Frame("ABORT", (("transaction", "tx1"),)), "1.2"),
    (b"DISCONNECT\nreceipt:77\n\n\x00", Frame("DISCONNECT", (("receipt", "77"),)), "1.2"),
    (b"RECEIPT\nreceipt-id:77\n\n\x00", Frame("RECEIPT", (("receipt-id", "77"),)), "1.2"),
    (
        b"MESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\n"
        b"content-type:text/plain\n\nhello queue a\x00",
        Frame(
            "MESSAGE",
            (
                ("subscription", "0"),
                ("message-id", "007"),
                ("destination", "/queue/a"),
                ("content-type", "text/plain"),
            ),
            b"hello queue a",
        ),
        "1.2",
    ),
    (
        b"ERROR\nreceipt-id:message-12345\ncontent-type:text/plain\ncontent-length:170\n"
        b"message:malformed frame received\n\n" + ERROR_BODY + b"\x00",
        Frame(
            "ERROR",
            (
                ("receipt-id", "message-12345"),
                ("content-type", "text/plain"),
                ("content-length", "170"),
                ("message", "malformed frame received"),
            ),
            ERROR_BODY,
        ),
        "1.2",
    ),
    (
        b"SEND\ndestination:/queue/a\ntransaction:tx1\ncontent-type:text/plain\n\n"
        b"hello queue a\n\x00",
        Frame(
            "SEND",
            (
                ("destination", "/queue/a"),
                ("transaction", "tx1"),
                ("content-type", "text/plain"),
            ),
            b"hello queue a\n",
        ),
        "1.2",
    ),
]


def test_error_example_content_length_matches_its_body() -> None:
    assert len(ERROR_BODY) == 170


@pytest.mark.parametrize(("data", "expected", "version"), SPEC_EXAMPLES)
def test_spec_examples(data: bytes, expected: Frame, version: str | None) -> None:
    assert parse_one(data, version) == expected


@pytest.mark.parametrize(("data", "expected", "version"), SPEC_EXAMPLES)
def test_spec_examples_byte_by_byte(data: bytes, expected: Frame, version: str | None) -> None:
    parser = FrameParser(version)
    got: list[Frame] = []
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        got.extend(parser.frames())
    assert got == [expected]
    assert parser.buffered == 0


def test_repeated_header_first_wins() -> None:
    frame = parse_one(b"MESSAGE\nfoo:World\nfoo:Hello\n\n\x00")
    assert frame.get("foo") == "World"
    assert frame.get_all("foo") == ["World", "Hello"]
    assert frame.headers == (("foo", "World"), ("foo", "Hello"))


def test_content_length_body_may_hold_nul_bytes() -> None:
    frame = parse_one(b"SEND\ndestination:/q\ncontent-length:5\n\na\x00b\x00c\x00")
    assert frame.body == b"a\x00b\x00c"


def test_body_without_content_length_ends_at_first_nul() -> None:
    frames = parse(b"SEND\ndestination:/q\n\nabc\x00SEND\ndestination:/r\n\ndef\x00")
    assert [f.body for f in frames] == [b"abc", b"def"]


def test_first_content_length_wins() -> None:
    frame = parse_one(b"SEND\ncontent-length:1\ncontent-length:3\n\na\x00")
    assert frame.body == b"a"


def test_crlf_line_endings_in_1_2() -> None:
    data = b"SEND\r\ndestination:/queue/a\r\nfoo:bar\r\n\r\nbody\x00"
    assert parse_one(data, "1.2") == Frame(
        "SEND", (("destination", "/queue/a"), ("foo", "bar")), b"body"
    )


def test_mixed_line_endings_in_1_2() -> None:
    data = b"SEND\ndestination:/queue/a\r\nfoo:bar\n\r\nbody\n\nmore\x00"
    frame = parse_one(data, "1.2")
    assert frame.headers == (("destination", "/queue/a"), ("foo", "bar"))
    assert frame.body == b"body\n\nmore"


def test_crlf_before_connect_is_accepted() -> None:
    frame = parse_one(b"CONNECT\r\naccept-version:1.2\r\nhost:a\r\n\r\n\x00", None)
    assert frame == Frame("CONNECT", (("accept-version", "1.2"), ("host", "a")))


def test_cr_is_part_of_the_value_in_1_1() -> None:
    frame = parse_one(b"SEND\ndestination:/a\r\n\nx\x00", "1.1")
    assert frame.get("destination") == "/a\r"


def test_heartbeat_eols_between_frames() -> None:
    frames = parse(b"\n\r\n\nSEND\ndestination:/a\n\n\x00\n\n\r\nSEND\ndestination:/b\n\n\x00\n")
    assert [f.get("destination") for f in frames] == ["/a", "/b"]


def test_only_heartbeats() -> None:
    parser = FrameParser("1.2")
    parser.feed(b"\n\n\r\n\n")
    assert parser.frames() == []
    assert parser.buffered == 0


def test_header_unescaping_1_2() -> None:
    frame = parse_one(b"MESSAGE\na\\cb:c\\\\d\\ne\\rf\n\n\x00", "1.2")
    assert frame.headers == (("a:b", "c\\d\ne\rf"),)


def test_header_unescaping_1_1_has_no_cr_escape() -> None:
    with pytest.raises(RemoteProtocolError, match="undefined escape"):
        parse(b"MESSAGE\nfoo:a\\rb\n\n\x00", "1.1")
    assert parse_one(b"MESSAGE\nfoo:a\\c\\nb\\\\\n\n\x00", "1.1").get("foo") == "a:\nb\\"


def test_1_0_does_not_unescape() -> None:
    assert parse_one(b"MESSAGE\nfoo:a\\nb\\x\n\n\x00", "1.0").get("foo") == "a\\nb\\x"


@pytest.mark.parametrize("command", [b"CONNECT", b"CONNECTED", b"STOMP"])
def test_connect_headers_are_never_unescaped(command: bytes) -> None:
    frame = parse_one(command + b"\npasscode:a\\nb\\q\n\n\x00", "1.2")
    assert frame.get("passcode") == "a\\nb\\q"


@pytest.mark.parametrize("sequence", [b"\\t", b"\\x", b"\\", b"\\C"])
def test_undefined_escape_sequences_are_errors(sequence: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="undefined escape sequence") as info:
        parse(b"SEND\ndestination:/a" + sequence + b"\n\n\x00")
    assert info.value.offset == 0


def test_colon_in_value_is_kept() -> None:
    frame = parse_one(b"SEND\ndestination:/a\nurl:http://x:80/\n\n\x00", "1.0")
    assert frame.get("url") == "http://x:80/"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"SEND\nno-colon\n\n\x00", "is not name:value"),
        (b"SEND\n:value\n\n\x00", "empty header name"),
        (b"SEND\ncontent-length:abc\n\nx\x00", "is not a number"),
        (b"SEND\ncontent-length:-1\n\nx\x00", "is not a number"),
        (b"SEND\ncontent-length:1\n\nxy\x00", "no NUL after the 1-byte body"),
        (b"SEND\nfoo:\xff\xfe\n\n\x00", "not UTF-8"),
        (b"SEND\nfo\x00o:bar\n\n\x00", "NUL byte in the header block"),
        (b"\rSEND\n\n\x00", "CR not followed by LF"),
    ],
)
def test_malformed_frames(data: bytes, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        parse(data)


def test_error_offset_counts_from_stream_start() -> None:
    parser = FrameParser("1.2")
    parser.feed(b"SEND\ndestination:/a\n\nok\x00\n")
    assert len(parser.frames()) == 1
    parser.feed(b"SEND\nbad\n\n\x00")
    with pytest.raises(RemoteProtocolError) as info:
        parser.frames()
    assert info.value.offset == 25
    assert "at byte 25" in str(info.value)


def test_frames_before_an_error_come_out_first_then_the_error_stays() -> None:
    parser = FrameParser("1.2")
    parser.feed(b"SEND\ndestination:/a\n\n\x00SEND\nbad\n\n\x00SEND\ndestination:/b\n\n\x00")
    assert [f.get("destination") for f in parser.frames()] == ["/a"]
    for _ in range(2):
        with pytest.raises(RemoteProtocolError):
            parser.frames()


def test_incomplete_frame_waits_for_more() -> None:
    parser = FrameParser("1.2")
    parser.feed(b"SEND\ndestination:/a\ncontent-length:4\n\nab")
    assert parser.frames() == []
    parser.feed(b"cd")
    assert parser.frames() == []
    parser.feed(b"\x00")
    assert [f.body for f in parser.frames()] == [b"abcd"]


def test_iterating_the_parser() -> None:
    parser = FrameParser("1.2")
    parser.feed(b"BEGIN\ntransaction:t\n\n\x00")
    assert [f.command for f in parser] == ["BEGIN"]


class TestLimits:
    def test_defaults_are_bounded(self) -> None:
        limits = Limits()
        assert limits.max_frame_size is not None
        assert limits.max_body_size == 4 * 1024 * 1024
        assert limits.max_headers == 128
        assert limits.max_header_length == 8 * 1024

    def test_content_length_over_max_body_is_refused_before_the_body_arrives(self) -> None:
        parser = FrameParser("1.2", Limits(max_body_size=10))
        parser.feed(b"SEND\ncontent-length:11\n\n")
        with pytest.raises(LimitExceeded) as info:
            parser.frames()
        assert info.value.limit == "max_body_size"
        assert info.value.value == 10
        assert "max_body_size limit of 10 exceeded" in str(info.value)

    def test_body_without_content_length_is_bounded_while_it_arrives(self) -> None:
        parser = FrameParser("1.2", Limits(max_body_size=10))
        parser.feed(b"SEND\n\n" + b"x" * 11)
        with pytest.raises(LimitExceeded, match="max_body_size"):
            parser.frames()

    def test_header_count(self) -> None:
        data = b"SEND\n" + b"".join(b"h%d:v\n" % i for i in range(5)) + b"\n\x00"
        assert parse(data, limits=Limits(max_headers=5))
        with pytest.raises(LimitExceeded, match="max_headers limit of 4"):
            parse(data, limits=Limits(max_headers=4))

    def test_header_line_length(self) -> None:
        data = b"SEND\nfoo:" + b"x" * 16 + b"\n\n\x00"
        assert parse(data, limits=Limits(max_header_length=20))
        with pytest.raises(LimitExceeded, match="max_header_length limit of 19"):
            parse(data, limits=Limits(max_header_length=19))

    def test_endless_header_block_is_cut_off(self) -> None:
        parser = FrameParser("1.2", Limits(max_frame_size=100))
        parser.feed(b"SEND\n" + b"h:v\n" * 30)
        with pytest.raises(LimitExceeded, match="max_frame_size"):
            parser.frames()

    def test_endless_command_line_is_cut_off(self) -> None:
        parser = FrameParser("1.2", Limits(max_header_length=50))
        parser.feed(b"X" * 60)
        with pytest.raises(LimitExceeded, match="max_header_length"):
            parser.frames()

    def test_frame_size(self) -> None:
        with pytest.raises(LimitExceeded, match="max_frame_size limit of 30"):
            parse(
                b"SEND\ncontent-length:20\n\n" + b"x" * 20 + b"\x00",
                limits=Limits(max_frame_size=30),
            )

    def test_none_disables(self) -> None:
        unlimited = Limits(None, None, None, None)
        data = b"SEND\n" + b"h:v\n" * 300 + b"\n" + b"x" * 100_000 + b"\x00"
        assert parse(data, limits=unlimited)[0].body == b"x" * 100_000
