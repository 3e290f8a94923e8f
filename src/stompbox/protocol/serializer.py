"""Frames to bytes, escaping headers per the negotiated version."""

from __future__ import annotations

from .errors import LocalProtocolError
from .escaping import UNESCAPED_COMMANDS, escape
from .frames import CLIENT_COMMANDS, SERVER_COMMANDS, Frame, Headers

__all__ = ["serialize", "serialize_headers", "serialize_parts", "unwritable", "writable_headers"]

_PLAIN_COMMANDS = CLIENT_COMMANDS | SERVER_COMMANDS


def serialize_headers(command: str, headers: Headers, version: str | None) -> str:
    """Return the header lines of a frame, joined by LF, escaped for ``version``.

    Any ``content-length`` in ``headers`` is left out: :func:`serialize` writes the true
    one. The check for text that needs escaping runs over the joined lines at once, so
    that the common case costs a few scans in C and no per-header Python work.
    """
    text = "\n".join(map(":".join, headers))
    if "content-length:" in text:  # a frame relayed as it came: the true one is written
        headers = tuple(header for header in headers if header[0] != "content-length")
        text = "\n".join(map(":".join, headers))
    count = len(headers)
    if (
        text.count(":") == count
        and text.count("\n") == count - 1
        and "\\" not in text
        and "\r" not in text
        and "\0" not in text
    ):
        return text
    if command in UNESCAPED_COMMANDS:
        version = None
    lines = []
    for name, value in headers:
        if name == "content-length":
            continue
        if not name:
            raise LocalProtocolError(f"empty header name in {command} frame")
        if "\0" in name or "\0" in value:
            raise LocalProtocolError(f"header {name!r} of {command} frame holds a NUL byte")
        if (version is None or version == "1.0") and ":" in name:
            raise LocalProtocolError(
                f"header name {name!r} holds a colon, which {command} frames in "
                f"STOMP {version or '1.0'} cannot escape"
            )
        lines.append(f"{escape(name, version)}:{escape(value, version)}")
    return "\n".join(lines)


def unwritable(name: str, value: str, version: str | None) -> str | None:
    """Say why header ``name:value`` cannot be written in ``version``, or ``None``.

    ``version`` is ``None`` for CONNECT-like frames, which are never escaped. The one
    statement of what :func:`serialize_headers` refuses, for callers that must decide
    before anything is queued (drop the header, or refuse the frame that brought it).
    """
    if not name:
        return "its name is empty"
    if "\0" in name or "\0" in value:
        return "it contains NUL"
    if version == "1.2" or version == "1.1":
        return None
    if ":" in name:
        return "its name contains a colon"
    if "\n" in name or "\n" in value:
        return "it contains LF"
    if "\r" in name or "\r" in value:
        return "it contains CR"
    return None


def writable_headers(
    headers: Headers, version: str | None
) -> tuple[Headers, list[tuple[str, str]]]:
    """Split ``headers`` into those ``version`` can write and (name, why not) for the rest."""
    kept: list[tuple[str, str]] = []
    dropped: list[tuple[str, str]] = []
    for name, value in headers:
        reason = unwritable(name, value, version)
        if reason is None:
            kept.append((name, value))
        else:
            dropped.append((name, reason))
    return tuple(kept), dropped


def serialize(frame: Frame, version: str | None = "1.2") -> bytes:
    """Return the wire form of ``frame`` for ``version`` (``None``: before negotiation).

    ``content-length`` is written whenever the body is not empty, so that a body may hold
    NUL bytes and the peer need not scan it.
    """
    head = _head(frame, version)
    body = frame.body
    return b"".join((head.encode(), body, b"\0")) if body else head.encode()


def serialize_parts(frame: Frame, version: str | None = "1.2") -> tuple[bytes, bytes, bytes]:
    """:func:`serialize` as (head, body, NUL) for a writer that takes several chunks: the
    body goes out as it is, not copied into one joined frame (a large one, say)."""
    body = frame.body
    if not body:
        return _head(frame, version).encode(), b"", b""
    return _head(frame, version).encode(), body, b"\0"


def _head(frame: Frame, version: str | None) -> str:
    """The command and header lines, and for a body its ``content-length`` and the blank
    line; for no body the whole frame but its bytes."""
    command, headers, body = frame
    if command not in _PLAIN_COMMANDS and (
        not command or "\n" in command or "\r" in command or "\0" in command
    ):
        raise LocalProtocolError(f"invalid command {command!r}")
    text = serialize_headers(command, headers, version) if headers else ""
    if body:
        if text:
            return f"{command}\n{text}\ncontent-length:{len(body)}\n\n"
        return f"{command}\ncontent-length:{len(body)}\n\n"
    return f"{command}\n{text}\n\n\0" if text else f"{command}\n\n\0"
