"""A message held by the broker: what subscribers share, plus where it is stored."""

from __future__ import annotations

from typing import Final

from stompbox.protocol.frames import Headers
from stompbox.protocol.message import OutgoingMessage

from .errors import BrokerError

__all__ = [
    "BROKER_HEADERS",
    "OWNED_HEADERS",
    "Message",
    "check_user_id",
    "vouched_headers",
]

OWNED_HEADERS: Final = frozenset(
    {
        "message-id",
        "subscription",
        "ack",
        "redelivered",
        "redelivery-count",
        "original-destination",
        "dead-letter-reason",
        "session",
        "user-id",
        "user-name",
        "stompbox-seq",
        "stompbox-resume",
    }
)
"""Headers only the broker sets, so that a receiver can trust them; a sender's values
are never forwarded (``user-id`` is checked first: :func:`check_user_id`)."""

BROKER_HEADERS: Final = OWNED_HEADERS | {"destination", "receipt", "transaction", "content-length"}
"""The owned headers, and those that say what to do with a SEND: none is forwarded."""


def vouched_headers(
    headers: Headers, user: str | None, drop: frozenset[str] = OWNED_HEADERS
) -> list[tuple[str, str]]:
    """A SEND's headers with only what the broker vouches for among those it owns: a
    ``user-id`` naming someone else is refused, the headers in ``drop`` are left out,
    and the sender's verified name is stamped as ``user-id``. The broker's own SEND path
    does the same inline, in its one pass over the headers."""
    check_user_id(headers, user)
    kept = [header for header in headers if header[0] not in drop]
    if user is not None:
        kept.append(("user-id", user))
    return kept


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

    __slots__ = ("deadline", "priority", "stored")

    def __init__(self, destination: str, message_id: str, headers: Headers, body: bytes) -> None:
        super().__init__(destination, message_id, headers, body)
        self.stored: int | None = None
        """Row id in the message store, for a persistent queue message."""
        self.deadline: float | None = None
        """When it expires, in ms since the epoch (:mod:`stompbox.broker.expiry`)."""
        self.priority = 4
        """0-9, from its ``priority`` header (:mod:`stompbox.broker.priority`)."""
