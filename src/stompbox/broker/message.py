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
        # The base's assignments, inlined: one message is built per SEND.
        self.destination = destination
        self.id = message_id
        self.headers = headers
        self.body = body
        self.redeliveries = 0
        self._tail = b""
        self._tail_version: str | None = None
        self._tails: dict[str, bytes] | None = None
        self.stored: int | None = None
        """Row id in the message store, for a persistent queue message."""
