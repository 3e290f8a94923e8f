"""Handlers for tests and the protocol's conformance service."""

from __future__ import annotations

from .session import SockJSSession

__all__ = ["CloseHandler", "EchoHandler"]


class EchoHandler:
    """Sends every message back; records what happened, for tests."""

    def __init__(self) -> None:
        self.opened_sessions: list[SockJSSession] = []
        self.closed_sessions: list[SockJSSession] = []

    def opened(self, session: SockJSSession) -> None:
        self.opened_sessions.append(session)

    def received(self, session: SockJSSession, messages: list[str]) -> None:
        for message in messages:
            session.send(message)

    def closed(self, session: SockJSSession) -> None:
        self.closed_sessions.append(session)


class CloseHandler(EchoHandler):
    """Closes every session as it opens, with ``c[3000,"Go away!"]``."""

    def opened(self, session: SockJSSession) -> None:
        super().opened(session)
        session.close()
