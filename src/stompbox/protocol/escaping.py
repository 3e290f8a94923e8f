"""Header escaping per version (STOMP 1.2 "Value Encoding", 1.1 "Value Encoding").

STOMP 1.0 has no escaping; 1.1 escapes ``\\n``, ``:`` and ``\\``; 1.2 adds ``\\r``.
CONNECT and CONNECTED headers are never escaped, whatever the version, so that a 1.0 peer
can read them before the version is known.
"""

from __future__ import annotations

from typing import Final

from .errors import LocalProtocolError, RemoteProtocolError

__all__ = ["UNESCAPED_COMMANDS", "escape", "unescape"]

UNESCAPED_COMMANDS: Final = frozenset({"CONNECT", "CONNECTED", "STOMP"})

_ESCAPES_11: Final = {"\\": "\\\\", "\n": "\\n", ":": "\\c"}
_ESCAPES_12: Final = {**_ESCAPES_11, "\r": "\\r"}
_TABLE_11: Final = str.maketrans(_ESCAPES_11)
_TABLE_12: Final = str.maketrans(_ESCAPES_12)
_UNESCAPES_11: Final = {"\\": "\\", "n": "\n", "c": ":"}
_UNESCAPES_12: Final = {**_UNESCAPES_11, "r": "\r"}


def escape(text: str, version: str | None) -> str:
    """Escape a header name or value for ``version`` (``None``: a CONNECT-like frame).

    Where the version has no escape for a character that would break the frame (a line
    feed in 1.0, a colon in a 1.0 name), raise :class:`LocalProtocolError`.
    """
    if version == "1.2":
        return text.translate(_TABLE_12)
    if version == "1.1":
        return text.translate(_TABLE_11)
    if "\n" in text or "\r" in text:
        raise LocalProtocolError(
            f"header text {text!r} holds a line break, which STOMP {version or '1.0'} "
            "cannot escape (CONNECT and CONNECTED headers are never escaped)"
        )
    return text


def unescape(text: str, version: str) -> str:
    """Undo :func:`escape`; an undefined escape sequence is a :class:`RemoteProtocolError`."""
    if "\\" not in text:
        return text
    table = _UNESCAPES_12 if version == "1.2" else _UNESCAPES_11
    out: list[str] = []
    i = 0
    length = len(text)
    while i < length:
        j = text.find("\\", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        code = text[j + 1 : j + 2]
        replacement = table.get(code) if code else None
        if replacement is None:
            defined = ", ".join("\\" + c for c in table)
            raise RemoteProtocolError(
                "undefined escape sequence",
                f"header text {text!r} holds {text[j : j + 2]!r}, which STOMP {version} "
                f"does not define (defined: {defined})",
            )
        out.append(replacement)
        i = j + 2
    return "".join(out)
