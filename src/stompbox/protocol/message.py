"""The part of a MESSAGE frame that every subscriber of one published message shares.

A delivery is ``MESSAGE``, ``subscription`` (and in 1.2 ``ack``), then the same lines and
body for everyone: destination, message-id, the sender's headers, content-length, body,
NUL. That shared tail is encoded once per protocol version and cached here, so that a
fan-out to a hundred subscribers serializes the message once, not a hundred times.

A sender's header that a subscriber's version cannot write (a colon in a name, a line
break, for STOMP 1.0) is left out of that version's tail alone, with one log line: the
tail is whole before any connection queues it, so the publisher, the other subscribers
and the stream are never affected (docs/stomp-support.md).
"""

from __future__ import annotations

import logging
from typing import Final

from .errors import LocalProtocolError
from .frames import Headers
from .serializer import serialize_headers, writable_headers

__all__ = ["OutgoingMessage", "forget_destination_lines", "message_head"]

log = logging.getLogger("stompbox.protocol")


def message_head(subscription: str, version: str | None) -> bytes:
    """``MESSAGE`` and the ``subscription`` line, the start of every delivery."""
    line = serialize_headers("MESSAGE", (("subscription", subscription),), version)
    return f"MESSAGE\n{line}\n".encode()


class OutgoingMessage:
    """A message on its way to subscribers: destination, id, headers and body.

    ``redeliveries`` above 0 adds ``redelivered:true`` and ``redelivery-count``; change it
    with :meth:`redeliver`, which drops the cached encodings.
    """

    __slots__ = (
        "_tail",
        "_tail_version",
        "_tails",
        "body",
        "destination",
        "headers",
        "id",
        "redeliveries",
        "shown_destination",
    )

    def __init__(self, destination: str, message_id: str, headers: Headers, body: bytes) -> None:
        self.destination = destination
        self.id = message_id
        self.headers = headers
        self.body = body
        self.redeliveries = 0
        self.shown_destination: str | None = None
        """The destination subscribers see, when not ``destination`` (a user destination's
        private queue shows as ``/user/queue/x``)."""
        self._tail = b""
        self._tail_version: str | None = None
        self._tails: dict[str, bytes] | None = None

    def tail(self, version: str) -> bytes:
        """Everything of the MESSAGE frame after the per-subscription lines, for ``version``.

        Headers ``version`` cannot write are left out. Raises
        :class:`~stompbox.protocol.LocalProtocolError` only if the destination or the
        message id cannot be written: the caller chose those, and clients' destinations
        are checked at input.
        """
        if version == self._tail_version:
            return self._tail
        if self._tail_version is None:
            self._tail = self._encode(version)
            self._tail_version = version
            return self._tail
        tails = self._tails
        if tails is None:
            tails = self._tails = {}
        data = tails.get(version)
        if data is None:
            data = tails[version] = self._encode(version)
        return data

    def redeliver(self) -> None:
        """Count one more delivery attempt; later tails say ``redelivered``."""
        self.redeliveries += 1
        self._tail_version = None
        self._tails = None

    def drop_encoding(self) -> None:
        """Free the cached encodings: a message that waits for one subscriber's ack
        would otherwise hold its body twice."""
        self._tail = b""
        self._tail_version = None
        self._tails = None

    def _encode(self, version: str) -> bytes:
        lines = _destination_line(self.shown_destination or self.destination, version)
        message_id = self.id
        if _SPECIAL.isdisjoint(message_id):
            lines = f"{lines}\nmessage-id:{message_id}"
        else:
            lines += "\n" + serialize_headers("MESSAGE", (("message-id", message_id),), version)
        if self.redeliveries:
            lines += f"\nredelivered:true\nredelivery-count:{self.redeliveries}"
        if self.headers:
            try:
                text = serialize_headers("MESSAGE", self.headers, version)
            except LocalProtocolError:
                text = self._writable_headers(version)
            if text:
                lines += "\n" + text
        body = self.body
        if body:
            return b"".join((f"{lines}\ncontent-length:{len(body)}\n\n".encode(), body, b"\0"))
        return f"{lines}\n\n\0".encode()

    def _writable_headers(self, version: str) -> str:
        """The header lines ``version`` can write, logging what is left out (this runs
        once per message and version, off the common path)."""
        kept, dropped = writable_headers(self.headers, version)
        log.warning(
            "message %s to %s: left out of its STOMP %s copies, which cannot write them: %s",
            self.id,
            self.destination,
            version,
            ", ".join(f"header {name!r} ({reason})" for name, reason in dropped),
        )
        return serialize_headers("MESSAGE", kept, version)


_SPECIAL: Final = frozenset("\\\n\r:\0")
"""Characters that a header value must be checked or escaped for."""

_DESTINATION_LINES: dict[tuple[str, str], str] = {}
_DESTINATION_LINES_LIMIT: Final = 10_000


def _destination_line(destination: str, version: str) -> str:
    """The escaped ``destination`` line, cached: a destination is published to many
    times, and checking it for what needs escaping cost more than the rest of a tail."""
    key = (destination, version)
    line = _DESTINATION_LINES.get(key)
    if line is None:
        if len(_DESTINATION_LINES) >= _DESTINATION_LINES_LIMIT:
            _DESTINATION_LINES.clear()
        line = serialize_headers("MESSAGE", (("destination", destination),), version)
        _DESTINATION_LINES[key] = line
    return line


def forget_destination_lines() -> None:
    """Empty the destination-line cache: after a burst to many destinations its few
    long-lived entries would pin the allocator's memory of the messages around them."""
    _DESTINATION_LINES.clear()
