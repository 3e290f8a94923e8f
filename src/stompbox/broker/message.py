"""A message held by the broker: what subscribers share, plus where it is stored."""

from __future__ import annotations

from typing import Final

from stompbox.protocol.frames import Headers
from stompbox.protocol.message import OutgoingMessage

__all__ = ["BROKER_HEADERS", "Message", "sender_headers"]

BROKER_HEADERS: Final = frozenset(
    {
        # consumed: they say what to do with the frame
        "destination",
        "receipt",
        "transaction",
        "content-length",
        # owned: only the broker sets them, so that a receiver can trust them
        "message-id",
        "subscription",
        "ack",
        "redelivered",
        "redelivery-count",
        "original-destination",
        "session",
        "user-id",
        "user-name",
    }
)
"""Headers the broker sets or consumes; a sender's values for them are never forwarded
(``user-id`` is checked, then set by the broker: see :meth:`Broker.send`)."""


def sender_headers(headers: Headers) -> tuple[tuple[str, str], ...]:
    """The headers of a SEND that are the sender's own, to forward with its message."""
    return tuple(header for header in headers if header[0] not in BROKER_HEADERS)


class Message(OutgoingMessage):
    """A published message. The protocol encodes it (once per version, shared among all
    subscribers); the broker only adds where it is kept."""

    __slots__ = ("stored",)

    def __init__(self, destination: str, message_id: str, headers: Headers, body: bytes) -> None:
        super().__init__(destination, message_id, headers, body)
        self.stored: int | None = None
        """Row id in the message store, for a persistent queue message."""
