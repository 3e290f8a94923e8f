"""An incremental STOMP frame parser: feed it bytes, take complete frames out.

The grammar is STOMP 1.2's "Augmented BNF": a command line, header lines, a blank line,
a body, a NUL, then any number of EOLs (heart-beats). The common case is made fast by
doing as little per frame in Python as possible: one ``find`` for the end of the header
block, one decode of that block, one ``split`` into lines, and no unescaping unless the
block holds a backslash.

A body without ``content-length`` ends at its first NUL. While it has not arrived, each
read is scanned on its own and kept as it came, so that a large body costs one scan and
one join in all rather than a join and a rescan of everything buffered on every read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, NoReturn

from .errors import LimitExceeded, RemoteProtocolError
from .escaping import UNESCAPED_COMMANDS, unescape
from .frames import Frame

__all__ = ["DEFAULT_LIMITS", "FrameParser", "Limits"]

_new_frame = tuple.__new__
_NO_LIMIT: Final = 1 << 62
_NOT_SEPARATORS: Final = bytes(b for b in range(256) if b not in b"\n:")


def _unbounded(limit: int | None) -> int:
    return _NO_LIMIT if limit is None else limit


# builds a Frame without the Python-level NamedTuple.__new__


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a peer may make the parser buffer; ``None`` disables one.

    Every limit is checked while bytes arrive, so that a peer cannot make the parser hold
    more than ``max_frame_size`` bytes by never finishing a frame. A limit that is set is
    at least 1 (``stompbox serve`` refuses 0 and negative ones at start-up: a 0
    ``max_body_size`` would refuse every SEND with a body).
    """

    max_frame_size: int | None = 17 * 1024 * 1024
    """Whole frame, command to NUL: the body limit plus room for headers."""
    max_body_size: int | None = 16 * 1024 * 1024
    """16 MiB, as RabbitMQ's and ActiveMQ's own test suites send; a server's memory
    budget, not this limit, bounds what many such frames can cost together."""
    max_headers: int | None = 128
    """Header lines in one frame."""
    max_header_length: int | None = 8 * 1024
    """One header line (or the command line), in bytes, without its EOL."""

    def header_block_cap(self) -> int | None:
        """The most a header block may hold before it must have ended."""
        caps = [self.max_frame_size] if self.max_frame_size is not None else []
        if self.max_headers is not None and self.max_header_length is not None:
            caps.append((self.max_headers + 1) * (self.max_header_length + 2))
        return min(caps) if caps else None


DEFAULT_LIMITS: Final = Limits()


class FrameParser:
    """Turns a byte stream into :class:`Frame` objects, whatever way the stream is split.

    ``version`` selects the header rules: ``None`` (before negotiation: CR LF accepted, no
    unescaping, as for CONNECT), ``"1.0"`` (LF only, no escaping), ``"1.1"`` (LF only,
    ``\\n \\c \\\\``), ``"1.2"`` (CR LF or LF, adds ``\\r``). CONNECT and CONNECTED headers
    are never unescaped. The owner may change ``version`` and ``limits`` between calls.
    """

    __slots__ = (
        "_body_start",
        "_bounds",
        "_chunks",
        "_error",
        "_have",
        "_limits",
        "_need",
        "_offset",
        "_scan_version",
        "_scanned",
        "version",
    )

    def __init__(self, version: str | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        self.version = version
        # While a body without content-length is waiting for its NUL: the chunks already
        # scanned for it (0: no body is waiting), where the body starts in the buffer, and
        # the version its header block was read with.
        self._scanned = 0
        self._body_start = 0
        self._scan_version: str | None = None
        self.limits = limits  # also computes _bounds
        self._chunks: list[bytes] = []
        self._have = 0  # bytes in _chunks
        self._need = 1  # bytes _chunks must hold before parsing can make progress
        self._offset = 0  # stream offset of the first byte in _chunks
        self._error: RemoteProtocolError | None = None

    @property
    def limits(self) -> Limits:
        return self._limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self._limits = limits
        self._scanned = 0  # the waiting frame's header block is checked again
        # Unset limits become a huge number, so that the hot path compares without a None
        # test, and they are worked out here rather than once per read.
        self._bounds = (
            _unbounded(limits.max_frame_size),
            _unbounded(limits.max_body_size),
            _unbounded(limits.max_headers),
            _unbounded(limits.max_header_length),
        )

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return self._have

    def feed(self, data: bytes) -> None:
        """Add received bytes; call :meth:`frames` to take out what they complete."""
        if data:
            self._chunks.append(data)
            self._have += len(data)

    def frames(self) -> list[Frame]:
        """Return the frames completed so far, in order, removing them from the buffer.

        Malformed input raises :class:`RemoteProtocolError`; frames that were complete
        before the bad bytes are returned first, and the error is raised on the next call
        (and every call after it: a stream is not resynchronised after an error).
        """
        if self._error is not None:
            raise self._error
        if self._have < self._need:
            return []
        if self._scanned and self._body_waits():
            return []
        chunks = self._chunks
        buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        out: list[Frame] = []
        try:
            pos, need = self._parse(buf, out)
        except RemoteProtocolError as exc:
            self._stop(exc)
            if out:
                return out
            raise
        self._offset += pos
        if pos == len(buf):
            self._chunks = []
            self._have = 0
        elif pos:
            rest = buf[pos:]
            self._chunks = [rest]
            self._have = len(rest)
        else:
            self._chunks = [buf]
        self._need = need - pos
        return out

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames())

    def _stop(self, exc: RemoteProtocolError) -> None:
        """Keep ``exc`` to raise from now on, and drop what is buffered."""
        self._error = exc
        self._chunks = []
        self._have = 0
        self._scanned = 0

    def _body_waits(self) -> bool:
        """Whether the waiting body still lacks its NUL, scanning only the chunks fed since.

        Raises what :meth:`_parse` would for an unfinished body that is too large. Returns
        ``False`` when the NUL has arrived (or the version changed), for a full parse.
        """
        chunks = self._chunks
        if self._scan_version != self.version:
            self._scanned = 0
            return False
        for index in range(self._scanned, len(chunks)):
            if b"\0" in chunks[index]:
                self._scanned = 0
                return False
        self._scanned = len(chunks)
        size = self._have  # the buffer starts with the waiting frame
        max_frame, max_body = self._bounds[:2]
        if size - self._body_start > max_body:
            exc = LimitExceeded(
                "max_body_size",
                max_body,
                "body without content-length did not end",
                offset=self._offset,
            )
        elif size > max_frame:
            exc = LimitExceeded(
                "max_frame_size", max_frame, "frame did not end", offset=self._offset
            )
        else:
            self._need = size + 1
            return True
        self._stop(exc)
        raise exc

    def _fail(self, message: str, detail: str, at: int) -> RemoteProtocolError:
        return RemoteProtocolError(message, detail, offset=self._offset + at)

    def _parse(self, buf: bytes, out: list[Frame]) -> tuple[int, int]:
        """Parse complete frames from ``buf`` into ``out``; return (consumed, bytes needed)."""
        version = self.version
        crlf = version != "1.0" and version != "1.1"
        unescaping = version == "1.1" or version == "1.2"
        limits = self._limits
        max_frame, max_body, max_headers, max_line = self._bounds
        size = len(buf)
        pos = 0
        append = out.append
        while pos < size:
            if buf[pos] <= 13:  # heart-beat EOLs between frames: LF or CR LF
                first = buf[pos]
                if first == 10:
                    pos += 1
                    continue
                if first == 13:
                    if pos + 1 == size:
                        return pos, size + 1
                    if buf[pos + 1] != 10:
                        raise self._fail("malformed frame", "CR not followed by LF", pos)
                    pos += 2
                    continue
            end = buf.find(b"\n\n", pos)
            if end >= 0:
                body_start = end + 2
                head = buf[pos:end]
                try:
                    text = head.decode()
                    cr = crlf and "\r" in text
                except UnicodeDecodeError:
                    if not crlf:
                        self._decode(head, pos)  # raises, saying where
                    text = ""  # decoded below, once the block's end is known
                    cr = True
                if cr:
                    # The block may have ended earlier, with LF CR LF, and what follows
                    # (a body, the next frame) need not be UTF-8.
                    alt = buf.find(b"\n\r\n", pos, end + 1)
                    if alt >= 0:
                        end = alt
                        body_start = alt + 3
                        head = buf[pos:end]
                    if alt >= 0 or not text:
                        text = self._decode(head, pos)
            elif crlf and (end := buf.find(b"\n\r\n", pos)) >= 0:
                body_start = end + 3
                head = buf[pos:end]
                text = self._decode(head, pos)
                cr = True
            else:
                cap = limits.header_block_cap()
                if cap is not None and size - pos > cap:
                    self._check_lines(
                        buf[pos:size], limits.max_header_length, limits.max_headers, pos
                    )
                    raise LimitExceeded(
                        "max_frame_size",
                        cap,
                        "header block did not end",
                        offset=self._offset + pos,
                    )
                line_start = buf.rfind(b"\n", pos) + 1 or pos
                if size - line_start > max_line + 1:  # +1: the line's CR may follow
                    what = "command line" if line_start == pos else "header line"
                    raise LimitExceeded(
                        "max_header_length", max_line, what, offset=self._offset + line_start
                    )
                return pos, size + 1
            if "\0" in text:
                raise self._fail("malformed frame", "NUL byte in the header block", pos)
            command, _, rest = text.partition("\n")
            content_length = -1
            if not rest:
                headers: tuple[tuple[str, str], ...] = ()
            else:
                count = rest.count("\n") + 1
                if count > max_headers:
                    raise LimitExceeded(
                        "max_headers", max_headers, f"{command} frame", offset=self._offset + pos
                    )
                if len(head) > max_line:
                    self._check_lines(head, max_line, None, pos)
                if (
                    rest.count(":") == count
                    and not cr
                    and not ("\\" in rest and unescaping and command not in UNESCAPED_COMMANDS)
                ):
                    # Fast path: one colon per line and nothing to unescape, so the
                    # block splits into alternating names and values entirely in C.
                    parts = rest.replace("\n", ":").split(":")
                    n = len(parts)
                    # Tuples spelled out for the usual few headers: a SEND has two or
                    # three, and zip() over an iterator costs twice as much. As many
                    # colons as lines may still be a line without one beside a line with
                    # two, which would pair names with values wrongly; so each line must
                    # end where its name and value say, and no name may be empty.
                    if n == 4:
                        headers = ((parts[0], parts[1]), (parts[2], parts[3]))
                        bad = rest[len(parts[0]) + len(parts[1]) + 1] != "\n"
                    elif n == 6:
                        headers = ((parts[0], parts[1]), (parts[2], parts[3]), (parts[4], parts[5]))
                        end = len(parts[0]) + len(parts[1]) + 1
                        bad = (
                            rest[end] != "\n"
                            or rest[end + len(parts[2]) + len(parts[3]) + 2] != "\n"
                        )
                    elif n == 2:
                        headers = ((parts[0], parts[1]),)
                        bad = False
                    else:
                        pairs = iter(parts)
                        headers = tuple(zip(pairs, pairs, strict=False))
                        # the block's colons and line feeds, in order, must alternate (the
                        # command line before them may hold colons too)
                        seps = head.translate(None, _NOT_SEPARATORS)
                        bad = not seps.endswith(b"\n:" * count)
                    if bad or rest[0] == ":" or "\n:" in rest:
                        self._bad_header_line(command, rest, pos)
                    if rest.startswith("content-length:"):
                        start = 15
                    else:
                        start = rest.find("\ncontent-length:")
                        if start >= 0:
                            start += 16
                    if start >= 0:
                        stop = rest.find("\n", start)
                        value = rest[start:stop] if stop >= 0 else rest[start:]
                        if value.isdigit() and value.isascii():
                            content_length = int(value)
                            if content_length > max_body:
                                content_length = self._content_length(value, pos)
                        else:
                            content_length = self._content_length(value, pos)
                else:
                    headers, content_length = self._parse_headers(command, rest, crlf, pos)
            if cr and command[-1:] == "\r":
                command = command[:-1]
            if content_length >= 0:
                frame_end = body_start + content_length
                if frame_end + 1 - pos > max_frame:
                    raise LimitExceeded(
                        "max_frame_size",
                        max_frame,
                        f"frame would be {frame_end + 1 - pos} bytes",
                        offset=self._offset + pos,
                    )
                if frame_end >= size:
                    return pos, frame_end + 1
                if buf[frame_end] != 0:
                    raise self._fail(
                        "malformed frame",
                        f"no NUL after the {content_length}-byte body that content-length gives",
                        frame_end,
                    )
            else:
                frame_end = buf.find(b"\0", body_start)
                if frame_end < 0:
                    if size - body_start > max_body:
                        raise LimitExceeded(
                            "max_body_size",
                            max_body,
                            "body without content-length did not end",
                            offset=self._offset + pos,
                        )
                    if size - pos > max_frame:
                        raise LimitExceeded(
                            "max_frame_size",
                            max_frame,
                            "frame did not end",
                            offset=self._offset + pos,
                        )
                    # frames() keeps buf[pos:] as its one chunk, scanned up to its end.
                    self._scanned = 1
                    self._body_start = body_start - pos
                    self._scan_version = version
                    return pos, size + 1
                if frame_end - body_start > max_body:
                    raise LimitExceeded(
                        "max_body_size", max_body, "body", offset=self._offset + pos
                    )
                if frame_end + 1 - pos > max_frame:
                    raise LimitExceeded(
                        "max_frame_size", max_frame, "frame", offset=self._offset + pos
                    )
            append(_new_frame(Frame, (command, headers, buf[body_start:frame_end])))
            pos = frame_end + 1
        return pos, pos + 1

    def _bad_header_line(self, command: str, rest: str, at: int) -> NoReturn:
        """Raise for the header line of ``rest`` that is not name:value, or has no name."""
        line = next((line for line in rest.split("\n") if ":" not in line), None)
        if line is None:
            raise self._fail("malformed frame", f"empty header name in {command} frame", at)
        raise self._fail(
            "malformed frame", f"header line {line!r} of {command} frame is not name:value", at
        )

    def _decode(self, head: bytes, at: int) -> str:
        try:
            return head.decode()
        except UnicodeDecodeError as exc:
            raise self._fail(
                "malformed frame", f"header block is not UTF-8: {exc.reason}", at + exc.start
            ) from None

    def _content_length(self, value: str, at: int) -> int:
        if not (value.isascii() and value.isdigit()):
            raise self._fail("malformed frame", f"content-length {value!r} is not a number", at)
        length = int(value)
        max_body = self.limits.max_body_size
        if max_body is not None and length > max_body:
            raise LimitExceeded(
                "max_body_size", max_body, f"content-length is {length}", offset=self._offset + at
            )
        return length

    def _parse_headers(
        self, command: str, rest: str, crlf: bool, at: int
    ) -> tuple[tuple[tuple[str, str], ...], int]:
        """The general case: CR LF line ends, escapes, or colons inside values."""
        version = self.version
        lines = rest.split("\n")
        if crlf:
            lines = [line[:-1] if line[-1:] == "\r" else line for line in lines]
        escaped = (
            (version == "1.1" or version == "1.2")
            and "\\" in rest
            and command.rstrip("\r") not in UNESCAPED_COMMANDS
        )
        headers: list[tuple[str, str]] = []
        content_length = -1
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not name:
                raise self._fail(
                    "malformed frame",
                    f"header line {line!r} of {command} frame is not name:value",
                    at,
                )
            if escaped:
                try:
                    name = unescape(name, version)  # type: ignore[arg-type]
                    value = unescape(value, version)  # type: ignore[arg-type]
                except RemoteProtocolError as exc:
                    exc.offset = self._offset + at
                    raise
            if name == "content-length" and content_length < 0:
                content_length = self._content_length(value, at)
            headers.append((name, value))
        return tuple(headers), content_length

    def _check_lines(
        self, head: bytes, max_line: int | None, max_headers: int | None, at: int
    ) -> None:
        """Raise for the first line of ``head`` over ``max_line`` or ``max_headers`` lines."""
        lines = head.split(b"\n")
        if max_headers is not None and len(lines) - 1 > max_headers:
            raise LimitExceeded("max_headers", max_headers, offset=self._offset + at)
        if max_line is None:
            return
        offset = at
        for index, line in enumerate(lines):
            if len(line.rstrip(b"\r")) > max_line:
                what = "command line" if index == 0 else f"header line {index}"
                raise LimitExceeded(
                    "max_header_length", max_line, what, offset=self._offset + offset
                )
            offset += len(line) + 1
