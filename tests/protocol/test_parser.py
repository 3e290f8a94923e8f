"""The parser against the STOMP 1.2 specification's example frames and its grammar."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stompbox.protocol import (
    CLIENT_COMMANDS,
    Frame,
    FrameParser,
    LimitExceeded,
    Limits,
    RemoteProtocolError,
    serialize,
)


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


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
@pytest.mark.parametrize(
    "block",
    [
        b"ab\nx:y:z",  # a line without a colon, another with two: as many colons as lines
        b"x:y:z\nab",
        b"destination:/a\nab\nx:y:z",
        b"destination:/a\nx:y:z\nab",
        b"destination:/a\nab\nx::y",  # would have made an empty name
        b"a:1\nb:2\nc:3\nd\ne:5:6",
    ],
)
def test_a_line_without_a_colon_is_refused_whatever_the_colon_count(
    block: bytes, version: str
) -> None:
    with pytest.raises(RemoteProtocolError, match="is not name:value"):
        parse(b"SEND\n" + block + b"\n\n\x00", version)


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
        assert limits.max_body_size == 16 * 1024 * 1024
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


UNLIMITED = Limits(None, None, None, None)


def without_content_length(frame: Frame, crlf: bool = False) -> bytes:
    """``frame`` on the wire with its body ended only by the NUL, as a peer may send it."""
    head = serialize(frame._replace(body=b""), "1.2")[:-1]
    if crlf:
        head = head.replace(b"\n", b"\r\n")
    return head + frame.body + b"\0"


def with_content_length(frame: Frame) -> Frame:
    """The frame parsed from ``serialize(frame)``, which adds ``content-length`` to a body."""
    if not frame.body:
        return frame
    return frame._replace(headers=(*frame.headers, ("content-length", str(len(frame.body)))))


def parse_in_reads(data: bytes, size: int, parser: FrameParser) -> list[Frame]:
    out: list[Frame] = []
    for start in range(0, len(data), size):
        parser.feed(data[start : start + size])
        out.extend(parser.frames())
    return out


class TestBodyWithoutContentLength:
    """A body without ``content-length`` ends at the first NUL, found as the bytes arrive."""

    def test_large_body_in_many_reads_equals_the_content_length_frame(self) -> None:
        body = bytes(range(1, 256)) * 4096 + b"\r\n\n\r\n"  # about 1 MiB, EOLs inside
        frame = Frame("SEND", (("destination", "/queue/a"),), body)
        parser = FrameParser("1.2", UNLIMITED)
        data = without_content_length(frame)
        got: list[Frame] = []
        for start in range(0, len(data), 4096):
            assert not got
            parser.feed(data[start : start + 4096])
            got.extend(parser.frames())
            assert parser.buffered == (0 if got else min(start + 4096, len(data)))
        with_length = parse_in_reads(serialize(frame), 4096, FrameParser("1.2", UNLIMITED))
        assert got == [frame]
        assert with_length == [with_content_length(frame)]

    def test_reads_while_the_body_arrives_copy_nothing_already_buffered(self) -> None:
        """Memory allocated per read stays below one read, however much is buffered.

        This is the linearity that matters, shown without a clock: a parser that re-joins
        its buffer to look for the NUL again allocates (and copies) everything buffered on
        every read, which is quadratic in the frame's size.
        """
        read = 64 * 1024
        reads = [b"SEND\ndestination:/a\n\n" + b"x" * read] + [b"y" * read] * 63
        parser = FrameParser("1.2", UNLIMITED)
        growth: list[int] = []
        tracemalloc.start()
        try:
            for data in reads:
                before, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                parser.feed(data)
                assert parser.frames() == []
                growth.append(tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()
        assert parser.buffered == sum(map(len, reads))
        assert max(growth[1:]) < read // 16
        parser.feed(b"z\0")
        [frame] = parser.frames()
        assert frame.body == b"x" * read + b"y" * read * 63 + b"z"

    def test_crlf_header_block_then_body_in_single_bytes(self) -> None:
        data = b"SEND\r\ndestination:/a\r\n\r\n\r\nbody\n\nmore\r\x00\r\n\n"
        parser = FrameParser("1.2")
        assert parse_in_reads(data, 1, parser) == [
            Frame("SEND", (("destination", "/a"),), b"\r\nbody\n\nmore\r")
        ]
        assert parser.buffered == 0

    @pytest.mark.parametrize("length", [b"", b"content-length:2\r\n"])
    def test_crlf_header_block_before_a_body_that_is_not_utf8(self, length: bytes) -> None:
        data = b"SEND\r\n" + length + b"\r\n\xff\xfe\x00SEND\n\n\x00"
        assert [f.body for f in parse(data)] == [b"\xff\xfe", b""]

    def test_frames_around_a_body_that_ends_in_a_later_read(self) -> None:
        parser = FrameParser("1.2")
        parser.feed(b"BEGIN\ntransaction:t\n\n\x00\nSEND\ndestination:/a\n\nab")
        assert [f.command for f in parser.frames()] == ["BEGIN"]
        parser.feed(b"cd")
        assert parser.frames() == []
        parser.feed(b"ef\x00\r\nCOMMIT\ntransaction:t\n\n\x00SEND\n\ng")
        assert [(f.command, f.body) for f in parser.frames()] == [
            ("SEND", b"abcdef"),
            ("COMMIT", b""),
        ]
        assert parser.buffered == len(b"SEND\n\ng")

    def test_body_limit_is_exceeded_by_the_read_that_passes_it(self) -> None:
        parser = FrameParser("1.2", Limits(max_body_size=100))
        parser.feed(b"BEGIN\ntransaction:t\n\n\x00SEND\ndestination:/a\n\n" + b"x" * 60)
        assert [f.command for f in parser.frames()] == ["BEGIN"]
        parser.feed(b"x" * 40)
        assert parser.frames() == []
        parser.feed(b"x")
        with pytest.raises(LimitExceeded) as info:
            parser.frames()
        assert info.value.limit == "max_body_size"
        assert info.value.value == 100
        assert info.value.offset == 22
        assert "body without content-length did not end" in str(info.value)
        with pytest.raises(LimitExceeded):
            parser.frames()

    def test_body_at_its_limit_is_accepted(self) -> None:
        parser = FrameParser("1.2", Limits(max_body_size=100))
        assert parse_in_reads(b"SEND\n\n" + b"x" * 100 + b"\x00", 7, parser) == [
            Frame("SEND", (), b"x" * 100)
        ]

    def test_body_over_its_limit_with_the_nul_in_the_same_read(self) -> None:
        parser = FrameParser("1.2", Limits(max_body_size=100))
        parser.feed(b"SEND\n\n" + b"x" * 50)
        assert parser.frames() == []
        parser.feed(b"x" * 51 + b"\x00")
        with pytest.raises(LimitExceeded, match="max_body_size limit of 100") as info:
            parser.frames()
        assert info.value.offset == 0

    def test_frame_limit_is_exceeded_by_the_read_that_passes_it(self) -> None:
        parser = FrameParser("1.2", Limits(max_frame_size=100, max_body_size=None))
        parser.feed(b"\n\nSEND\ndestination:/a\n\n" + b"x" * 60)
        assert parser.frames() == []
        parser.feed(b"x" * 19)
        assert parser.frames() == []
        parser.feed(b"x")
        with pytest.raises(LimitExceeded) as info:
            parser.frames()
        assert info.value.limit == "max_frame_size"
        assert info.value.offset == 2
        assert "frame did not end" in str(info.value)

    def test_version_set_while_the_body_arrives_applies_to_its_headers(self) -> None:
        parser = FrameParser(None)
        parser.feed(b"SEND\nfoo:a\\cb\n\nab")
        assert parser.frames() == []
        parser.version = "1.2"
        parser.feed(b"c\x00")
        assert parser.frames() == [Frame("SEND", (("foo", "a:b"),), b"abc")]

    def test_limits_set_while_the_body_arrives_apply_at_once(self) -> None:
        parser = FrameParser("1.2", UNLIMITED)
        parser.feed(b"SEND\nh1:v\nh2:v\n\nab")
        assert parser.frames() == []
        parser.limits = Limits(max_headers=1)
        parser.feed(b"c")
        with pytest.raises(LimitExceeded, match="max_headers"):
            parser.frames()


nul_free_frames = st.builds(
    Frame,
    st.sampled_from(sorted(CLIENT_COMMANDS - {"CONNECT", "STOMP"})),
    st.lists(
        st.tuples(
            st.text(alphabet="abc:\\\r\n -", min_size=1, max_size=6),
            st.text(alphabet="xyz:\\\r\n -", max_size=6),
        ),
        max_size=3,
    ).map(tuple),
    st.binary(max_size=300).map(lambda body: body.replace(b"\0", b"")),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            nul_free_frames,
            st.sampled_from(["LF", "CR LF", "content-length"]),
            st.sampled_from([b"", b"\n", b"\r\n"]),
        )
    ),
    st.lists(st.integers(0, 4000)),
)
def test_bodies_without_content_length_parse_the_same_however_split(
    items: list[tuple[Frame, str, bytes]], cuts: list[int]
) -> None:
    """Bodies ended by the NUL alone, among heart-beats and content-length frames."""
    data = b"".join(
        eol
        + (
            serialize(frame)
            if wire == "content-length"
            else without_content_length(frame, crlf=wire == "CR LF")
        )
        for frame, wire, eol in items
    )
    parser = FrameParser("1.2", UNLIMITED)
    got: list[Frame] = []
    last = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        parser.feed(data[last:cut])
        last = cut
        got.extend(parser.frames())
    assert got == [
        with_content_length(frame) if wire == "content-length" else frame
        for frame, wire, _ in items
    ]
    assert parser.buffered == 0
