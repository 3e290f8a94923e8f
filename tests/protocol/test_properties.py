"""Property tests: serialize-then-parse is the identity, however the stream is split."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stompbox.protocol import (
    CLIENT_COMMANDS,
    SERVER_COMMANDS,
    Frame,
    FrameParser,
    Limits,
    ProtocolError,
    serialize,
)

UNLIMITED = Limits(None, None, None, None)

commands = st.one_of(
    st.sampled_from(
        sorted((CLIENT_COMMANDS | SERVER_COMMANDS) - {"CONNECT", "CONNECTED", "STOMP"})
    ),
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\x00"),
        min_size=1,
        max_size=12,
    ).filter(lambda c: c not in {"CONNECT", "CONNECTED", "STOMP"}),
)
header_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20
)
header = st.tuples(header_text.filter(bool), header_text).filter(lambda h: h[0] != "content-length")
frames = st.builds(
    Frame, commands, st.lists(header, max_size=6).map(tuple), st.binary(max_size=300)
)
eols = st.sampled_from([b"", b"\n", b"\r\n", b"\n\n\r\n"])


def as_sent(frame: Frame) -> Frame:
    """The frame a peer parses: the serializer adds ``content-length`` to a non-empty body."""
    if not frame.body:
        return frame
    return frame._replace(headers=(*frame.headers, ("content-length", str(len(frame.body)))))


def parse_all(data: bytes, cuts: list[int], version: str) -> list[Frame]:
    parser = FrameParser(version, UNLIMITED)
    out: list[Frame] = []
    last = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        parser.feed(data[last:cut])
        last = cut
        out.extend(parser.frames())
    assert parser.buffered == 0
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(frames, eols), max_size=5), st.lists(st.integers(0, 4000)))
def test_round_trip_1_2_any_split(items: list[tuple[Frame, bytes]], cuts: list[int]) -> None:
    data = b"".join(eol + serialize(frame, "1.2") for frame, eol in items)
    cuts = [c % (len(data) + 1) for c in cuts]
    assert parse_all(data, cuts, "1.2") == [as_sent(frame) for frame, _ in items]


@settings(max_examples=200, deadline=None)
@given(st.lists(frames, max_size=4), st.lists(st.integers(0, 4000)))
def test_round_trip_1_1(items: list[Frame], cuts: list[int]) -> None:
    data = b"\n".join(serialize(frame, "1.1") for frame in items)
    cuts = [c % (len(data) + 1) for c in cuts]
    assert parse_all(data, cuts, "1.1") == [as_sent(frame) for frame in items]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.builds(
            Frame,
            commands,
            st.lists(
                st.tuples(
                    header_text.filter(
                        lambda t: t and "\n" not in t and "\r" not in t and ":" not in t
                    ),
                    header_text.filter(lambda t: "\n" not in t and "\r" not in t),
                ).filter(lambda h: h[0] != "content-length"),
                max_size=5,
            ).map(tuple),
            st.binary(max_size=200),
        ),
        max_size=4,
    )
)
def test_round_trip_1_0(items: list[Frame]) -> None:
    data = b"".join(serialize(frame, "1.0") for frame in items)
    assert parse_all(data, [], "1.0") == [as_sent(frame) for frame in items]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=500), st.sampled_from([None, "1.0", "1.1", "1.2"]))
def test_random_bytes_raise_only_protocol_errors(data: bytes, version: str | None) -> None:
    parser = FrameParser(version, Limits(max_frame_size=300, max_body_size=200, max_headers=8))
    try:
        parser.feed(data)
        for frame in parser.frames():
            assert isinstance(frame, Frame)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(frames, eols), min_size=1, max_size=3), st.binary(max_size=60))
def test_mutated_streams_raise_only_protocol_errors(
    items: list[tuple[Frame, bytes]], noise: bytes
) -> None:
    data = b"".join(eol + serialize(frame, "1.2") for frame, eol in items)
    middle = len(data) // 2
    parser = FrameParser("1.2")
    try:
        parser.feed(data[:middle] + noise + data[middle:])
        parser.frames()
    except ProtocolError:
        pass
