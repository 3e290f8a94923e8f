"""A message held by the broker: what subscribers share, plus where it is stored."""

from __future__ import annotations

from typing import Final

from stompbox.protocol.frames import Headers
from stompbox.protocol.message import OutgoingMessage

from .errors import BrokerError

__all__ = ["BROKER_HEADERS", "OWNED_HEADERS", "Message", "check_user_id", "sender_headers"]

OWNED_HEADERS: Final = frozenset(
    {
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
"""Headers only the broker sets, so that a receiver can trust them; a sender's values
are never forwarded (``user-id`` is checked first: :func:`check_user_id`)."""

BROKER_HEADERS: Final = OWNED_HEADERS | {"destination", "receipt", "transaction", "content-length"}
"""The owned headers, and those that say what to do with a SEND: none is forwarded."""


def sender_headers(headers: Headers) -> tuple[tuple[str, str], ...]:
    """The headers of a SEND that are the sender's own, to forward with its message."""
    return tuple(header for header in headers if header[0] not in BROKER_HEADERS)


def check_user_id(headers: Headers, user: str | None) -> None:
    """Refuse a SEND whose ``user-id`` is not its sender's verified name (RabbitMQ's
    rule), so that a receiver can trust the ``user-id`` the broker stamps."""
    for name, value in headers:
        if name == "user-id" and value != user:
            raise BrokerError(
                "access denied",
                f"user-id {value!r} is not the user this connection is authenticated as; "
                "the broker sets user-id itself",
            )


class Message(OutgoingMessage):
    """A published message. The protocol encodes it (once per version, shared among all
    subscribers); the broker only adds where it is kept."""

    __slots__ = ("stored",)

    def __init__(self, destination: str, message_id: str, headers: Headers, body: bytes) -> None:
        super().__init__(destination, message_id, headers, body)
        self.stored: int | None = None
        """Row id in the message store, for a persistent queue message."""
