"""A message held by the broker: what subscribers share, plus where it is stored."""

from __future__ import annotations

from typing import Final

from stompbox.protocol.frames import Headers
from stompbox.protocol.message import OutgoingMessage

__all__ = ["BROKER_HEADERS", "Message"]

BROKER_HEADERS: Final = frozenset(
    {
        "destination",
        "message-id",
        "subscription",
        "ack",
        "receipt",
        "transaction",
        "content-length",
        "redelivered",
        "redelivery-count",
    }
)
"""Headers the broker sets or consumes; a sender's values for them are not forwarded."""


class Message(OutgoingMessage):
    """A published message. The protocol encodes it (once per version, shared among all
    subscribers); the broker only adds where it is kept."""

    __slots__ = ("stored",)

    def __init__(self, destination: str, message_id: str, headers: Headers, body: bytes) -> None:
        super().__init__(destination, message_id, headers, body)
        self.stored: int | None = None
        """Row id in the message store, for a persistent queue message."""
