"""The small types of the application API: how handlers declare replies, what
authenticators and event listeners receive, and how interceptors refuse a frame."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from stompbox.broker import BrokerError
from stompbox.protocol import Frame
from stompbox.server.session import ServerSession

from .routing import Reply

__all__ = ["Credentials", "FrameRejected", "SessionEvent", "send_to", "send_to_user"]

F = TypeVar("F", bound=Callable[..., Any])


class FrameRejected(BrokerError):
    """Raise from an inbound interceptor to refuse a frame with an ERROR."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an authenticator sees: CONNECT's login and passcode, its headers, and the
    WebSocket handshake's ASGI scope (cookies, headers, query string), when there is one."""

    login: str | None
    passcode: str | None
    headers: Mapping[str, str]
    handshake: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class SessionEvent:
    kind: str
    """connect, connected, subscribe, unsubscribe or disconnect."""
    session: ServerSession
    frame: Frame | None = None

    @property
    def principal(self) -> Any:
        return self.session.principal


def send_to(*destinations: str) -> Callable[[F], F]:
    """Send the handler's return value to these broker destinations (``{var}`` allowed)."""

    def mark(handler: F) -> F:
        handler.__stompbox_reply__ = Reply(destinations)  # type: ignore[attr-defined]
        return handler

    return mark


def send_to_user(*destinations: str, broadcast: bool = True) -> Callable[[F], F]:
    """Send the return value to the sender's user: every session of that user, or with
    ``broadcast=False`` only the session that sent the message."""

    def mark(handler: F) -> F:
        handler.__stompbox_reply__ = Reply(destinations, to_user=True, broadcast=broadcast)  # type: ignore[attr-defined]
        return handler

    return mark
