"""Frames to bytes, escaping headers per the negotiated version."""

from __future__ import annotations

from .errors import LocalProtocolError
from .escaping import UNESCAPED_COMMANDS, escape
from .frames import CLIENT_COMMANDS, SERVER_COMMANDS, Frame, Headers

__all__ = ["serialize", "serialize_headers"]

_PLAIN_COMMANDS = CLIENT_COMMANDS | SERVER_COMMANDS


def serialize_headers(command: str, headers: Headers, version: str | None) -> str:
    """Return the header lines of a frame, joined by LF, escaped for ``version``.

    Any ``content-length`` in ``headers`` is left out: :func:`serialize` writes the true
    one. The check for text that needs escaping runs over the joined lines at once, so
    that the common case costs a few scans in C and no per-header Python work.
    """
    text = "\n".join(map(":".join, headers))
    count = len(headers)
    if (
        text.count(":") == count
        and text.count("\n") == count - 1
        and "\\" not in text
        and "\r" not in text
        and "\0" not in text
        and "content-length:" not in text
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


def serialize(frame: Frame, version: str | None = "1.2") -> bytes:
    """Return the wire form of ``frame`` for ``version`` (``None``: before negotiation).

    ``content-length`` is written whenever the body is not empty, so that a body may hold
    NUL bytes and the peer need not scan it.
    """
    command, headers, body = frame
    if command not in _PLAIN_COMMANDS and (
        not command or "\n" in command or "\r" in command or "\0" in command
    ):
        raise LocalProtocolError(f"invalid command {command!r}")
    text = serialize_headers(command, headers, version) if headers else ""
    if body:
        head = (
            f"{command}\n{text}\ncontent-length:{len(body)}\n\n"
            if text
            else (f"{command}\ncontent-length:{len(body)}\n\n")
        )
        return b"".join((head.encode(), body, b"\0"))
    return f"{command}\n{text}\n\n\0".encode() if text else f"{command}\n\n\0".encode()
