"""The small types of the application API: how handlers declare replies, what
authenticators and event listeners receive, and how interceptors refuse a frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from stompbox.broker import BrokerError
from stompbox.protocol import Frame
from stompbox.security.authn import Credentials
from stompbox.server.session import ServerSession

from .routing import Reply, add_reply, replies_of

__all__ = [
    "Credentials",
    "FrameRejected",
    "SessionEvent",
    "replies_of",
    "send_to",
    "send_to_user",
]

F = TypeVar("F", bound=Callable[..., Any])


class FrameRejected(BrokerError):
    """Raise from an inbound interceptor to refuse a frame with an ERROR."""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    kind: str
    """connect, connected, subscribe, unsubscribe or disconnect."""
    session: ServerSession
    frame: Frame | None = None

    @property
    def principal(self) -> Any:
        """What the session's authenticator returned (None: anonymous)."""
        return self.session.principal

    @property
    def user(self) -> str | None:
        """The verified user's name (None: anonymous)."""
        identity = self.session.identity
        return identity.name if identity is not None else None


@dataclass(frozen=True, slots=True)
class BrokerAvailability:
    """``broker_available`` / ``broker_unavailable``: the relayed broker came back or went
    away (Spring's ``BrokerAvailabilityEvent``)."""

    available: bool
    detail: str
    """The broker reached (``stomp://host:port``), or why it went away."""


def send_to(*destinations: str) -> Callable[[F], F]:
    """Send the handler's return value to these broker destinations (``{var}`` allowed);
    with :func:`send_to_user` on the same handler, both deliver."""

    def mark(handler: F) -> F:
        add_reply(handler, Reply(destinations))
        return handler

    return mark


def send_to_user(*destinations: str, broadcast: bool = True) -> Callable[[F], F]:
    """Send the return value to the sender's user: every session of that user, or with
    ``broadcast=False`` only the session that sent the message."""

    def mark(handler: F) -> F:
        add_reply(handler, Reply(destinations, to_user=True, broadcast=broadcast))
        return handler

    return mark
