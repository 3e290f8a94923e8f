"""Exceptions of the protocol core, by whose fault it was.

ProtocolError
├── LocalProtocolError   this side misused the API (sending a frame the state forbids)
└── RemoteProtocolError  the peer broke the specification; carries what to answer
    └── LimitExceeded    the peer went past a configured limit (names it and its value)
"""

from __future__ import annotations

__all__ = ["LimitExceeded", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class: something about a STOMP exchange is wrong."""


class LocalProtocolError(ProtocolError):
    """This side tried something the protocol forbids; fix the calling code."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the specification forbids.

    ``message`` is short and goes in the ERROR frame's ``message`` header; ``detail`` goes
    in its body. ``offset`` is the position in the received byte stream where the problem
    was found, when it comes from the parser. ``receipt`` is the offending frame's
    ``receipt`` header, echoed as ``receipt-id`` in the ERROR frame (STOMP 1.2, ERROR).
    """

    def __init__(
        self,
        message: str,
        detail: str = "",
        *,
        offset: int | None = None,
        receipt: str | None = None,
    ) -> None:
        self.message = message
        self.detail = detail
        self.offset = offset
        self.receipt = receipt
        text = message if offset is None else f"{message} (at byte {offset})"
        super().__init__(f"{text}: {detail}" if detail else text)


class LimitExceeded(RemoteProtocolError):
    """The peer exceeded a configured limit; ``limit`` and ``value`` name it for the ERROR."""

    def __init__(self, limit: str, value: int, detail: str = "", *, offset: int | None = None):
        self.limit = limit
        self.value = value
        super().__init__(f"{limit} limit of {value} exceeded", detail, offset=offset)
