"""SockJS framing, sans-IO: the frames a server sends, how each transport wraps them, and
how a client's payload is read.

Protocol 0.3.3 frames are text: ``o`` (open), ``h`` (heartbeat), ``a[...]`` (a JSON array
of messages) and ``c[code,"reason"]`` (close). Message strings are JSON with some code
points escaped as ``\\uXXXX``, because browsers and proxies mangle them on the way (the
protocol's ``escapable_by_server`` set, widened to what sockjs-node escapes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple, assert_never

__all__ = [
    "CloseFrame",
    "Frame",
    "HeartbeatFrame",
    "InvalidPayload",
    "MessageFrame",
    "OpenFrame",
    "decode_messages",
    "encode_frame",
    "htmlfile_prelude",
    "quote",
    "valid_callback",
    "valid_id",
]


class OpenFrame(NamedTuple):
    """``o``: the session is open; the first frame of every session."""


class HeartbeatFrame(NamedTuple):
    """``h``: keeps proxies from closing an idle receiving request."""


class MessageFrame(NamedTuple):
    """``a[...]``: messages for the client, in order."""

    messages: tuple[str, ...]


class CloseFrame(NamedTuple):
    """``c[code,"reason"]``: the session is over; served again to every later request."""

    code: int
    reason: str


Frame = OpenFrame | HeartbeatFrame | MessageFrame | CloseFrame

_ESCAPABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0604\u070f\u17b4\u17b5\u200c-\u200f\u2028-\u202f"
    "\u2060-\u206f\ufeff\ufff0-\uffff\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


_encode_basestring: Callable[[str], str] = json.encoder.encode_basestring


def quote(text: str) -> str:
    """``text`` as a JSON string, with the code points SockJS clients need escaped (lone
    surrogates among them, which UTF-8 cannot carry).

    This runs once per message per session (a topic fan-out to a hundred SockJS sessions
    quotes a hundred times): json's C string encoder, and the regex only for text beyond
    ASCII or with DEL, which STOMP frames rarely hold. 1 µs a MESSAGE frame instead of 6.
    """
    quoted = _encode_basestring(text)
    if quoted.isascii() and "\x7f" not in quoted:
        return quoted
    return _ESCAPABLE.sub(_escape, quoted)


def encode_frame(frame: Frame) -> str:
    """The text of ``frame``, before a transport wraps it."""
    match frame:
        case OpenFrame():
            return "o"
        case HeartbeatFrame():
            return "h"
        case MessageFrame(messages):
            return "a[" + ",".join(map(quote, messages)) + "]"
        case CloseFrame(code, reason):
            return f"c[{int(code)},{quote(reason)}]"
        case _:
            assert_never(frame)


class InvalidPayload(ValueError):
    """The client's payload cannot be read; ``str()`` is the protocol's answer text."""


PAYLOAD_EXPECTED = "Payload expected."
BROKEN_JSON = "Broken JSON encoding."


def decode_messages(payload: bytes | str) -> list[str]:
    """The messages of a client payload: a JSON array of strings, or one JSON string.

    Raises :class:`InvalidPayload` (``Payload expected.`` or ``Broken JSON encoding.``),
    which the HTTP transports answer with a 500 and the WebSocket ones by closing.
    """
    if not payload:
        raise InvalidPayload(PAYLOAD_EXPECTED)
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayload(BROKEN_JSON) from None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise InvalidPayload(BROKEN_JSON)


_ID = re.compile(r"[^/.]+")
_CALLBACK = re.compile(r"[A-Za-z0-9_.]{1,256}")


def valid_id(part: str) -> bool:
    """Server and session ids: any non-empty path segment without a dot."""
    return _ID.fullmatch(part) is not None


def valid_callback(name: str) -> bool:
    """A JSONP/htmlfile callback name: letters, digits, ``_`` and ``.``, which keeps a
    request from injecting script into the page that runs the answer."""
    return _CALLBACK.fullmatch(name) is not None


_HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""


def htmlfile_prelude(callback: str) -> str:
    """The htmlfile page's head, padded past 1 KiB: old IE renders nothing before that."""
    return (_HTMLFILE_HEAD % callback).ljust(1024) + "\r\n"


def xhr(frame: str) -> str:
    return frame + "\n"


def eventsource(frame: str) -> str:
    return f"data: {frame}\r\n\r\n"


def htmlfile(frame: str) -> str:
    # ``<`` escaped too, so that no message can end the script element
    return "<script>\np(" + quote(frame).replace("<", "\\u003c") + ");\n</script>\r\n"


def jsonp(callback: str, frame: str) -> str:
    return f"{callback}({quote(frame)});\r\n"


XHR_STREAMING_PRELUDE = "h" * 2048 + "\n"
"""2 KiB before the first frame: some browsers hand nothing to XHR before that."""
EVENTSOURCE_PRELUDE = "\r\n"

IFRAME_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script>
    document.domain = document.domain;
    _sockjs_onload = function(){SockJS.bootstrap_iframe();};
  </script>
  <script src="%s"></script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""
