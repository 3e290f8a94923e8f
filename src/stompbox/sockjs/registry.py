"""The sessions of one endpoint, and the timers that drive their deadlines.

Each session answers :meth:`~stompbox.sockjs.session.SockJSSession.next_deadline`; the
table keeps one event-loop timer per session at that time, calls ``tick`` when it fires
and forgets sessions that expired. A timer is moved only when a deadline comes earlier,
so that a busy stream does not reschedule on every write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .session import SockJSHandler, SockJSSession

__all__ = ["SessionTable"]


class SessionTable:
    """Sessions by id (the HTTP transports'), plus the WebSocket ones, which the
    protocol lets share an id and which live as long as their socket."""

    def __init__(
        self,
        handler: SockJSHandler,
        *,
        heartbeat: float | None,
        disconnect_delay: float,
        max_queued: int | None,
        max_sessions: int | None,
    ) -> None:
        self.handler = handler
        self.heartbeat = heartbeat
        self.disconnect_delay = disconnect_delay
        self.max_queued = max_queued
        self.max_sessions = max_sessions
        self.sessions: dict[str, SockJSSession] = {}
        self.websockets: set[SockJSSession] = set()
        self._timers: dict[SockJSSession, asyncio.TimerHandle] = {}

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    @property
    def full(self) -> bool:
        count = len(self.sessions) + len(self.websockets)
        return self.max_sessions is not None and count >= self.max_sessions

    def create(self, id: str, scope: Mapping[str, Any], *, websocket: bool) -> SockJSSession:
        session = SockJSSession(
            id,
            scope,
            self.handler,
            now=self.now(),
            heartbeat=self.heartbeat,
            disconnect_delay=self.disconnect_delay,
            max_queued=self.max_queued,
        )
        if websocket:
            self.websockets.add(session)
        else:
            self.sessions[id] = session
        return session

    def schedule(self, session: SockJSSession) -> None:
        """Keep a timer at the session's next deadline (or none)."""
        deadline = session.next_deadline()
        timer = self._timers.get(session)
        if timer is not None and deadline is not None and timer.when() <= deadline:
            return  # fires early, finds nothing due, and reschedules
        if timer is not None:
            timer.cancel()
            del self._timers[session]
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timers[session] = loop.call_at(deadline, self._fire, session)

    def forget(self, session: SockJSSession) -> None:
        timer = self._timers.pop(session, None)
        if timer is not None:
            timer.cancel()
        self.websockets.discard(session)
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]

    def _fire(self, session: SockJSSession) -> None:
        self._timers.pop(session, None)
        session.tick(self.now())
        if session.expired:
            self.forget(session)
        else:
            self.schedule(session)

    def close_all(self, code: int = 3000, reason: str = "Go away!") -> None:
        for session in [*self.sessions.values(), *self.websockets]:
            session.close(code, reason)
