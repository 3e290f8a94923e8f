"""Session events and interceptors: what an application hears of its sessions, and how
it may look at (or change, or drop) every frame in and out."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from stompbox.protocol import Frame, FrameParser, Limits, serialize
from stompbox.server.session import ServerSession

from .api import SessionEvent

__all__ = ["EVENTS", "Hooks", "Interceptor"]

log = logging.getLogger("stompbox.app")

EVENTS = (
    "connect",
    "connected",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "broker_available",
    "broker_unavailable",
)
"""Session events (a :class:`SessionEvent`), then the relayed broker's (a
:class:`BrokerAvailability`)."""

Interceptor = Callable[[Frame, ServerSession], Frame | None]


class Hooks:
    """Listeners of session events, and inbound and outbound interceptors."""

    def __init__(self) -> None:
        self.listeners: dict[str, list[Callable[[SessionEvent], Any]]] = {e: [] for e in EVENTS}
        self.inbound: list[Interceptor] = []
        self.outbound: list[Interceptor] = []
        self._parsers: dict[ServerSession, FrameParser] = {}
        self._background: set[asyncio.Task[Any]] = set()

    def intercept(self, frame: Frame, session: ServerSession) -> Frame | None:
        """Run the inbound interceptors: the frame as they leave it, or None if dropped."""
        for interceptor in self.inbound:
            result = interceptor(frame, session)
            if result is None:
                return None
            frame = result
        return frame

    def outgoing(self, session: ServerSession, chunks: list[bytes]) -> list[bytes]:
        """Run the outbound interceptors over bytes about to be written to ``session``:
        parsed again into frames (deliveries are serialized once for every subscriber),
        offered to each interceptor, and serialized back; nothing is added (and nothing
        joined or copied) without one."""
        if not self.outbound:
            return chunks
        data = b"".join(chunks)
        if data.strip(b"\r\n") == b"":  # a heart-beat
            return chunks
        parser = self._parsers.get(session)
        if parser is None:
            parser = self._parsers[session] = FrameParser(
                session.conn.version, Limits(None, None, None, None)
            )
        parser.feed(data)
        out = []
        for frame in parser.frames():
            current: Frame | None = frame
            for interceptor in self.outbound:
                if current is None:
                    break
                current = interceptor(current, session)
            if current is not None:
                out.append(serialize(current, session.conn.version))
        return out

    def forget(self, session: ServerSession) -> None:
        self._parsers.pop(session, None)

    def emit(self, kind: str, session: ServerSession, frame: Frame | None = None) -> None:
        """Call the listeners of ``kind``; an async one runs as a task of its own, and a
        listener that fails is logged, never the session's problem."""
        listeners = self.listeners[kind]
        if not listeners:
            return
        self.announce(kind, SessionEvent(kind, session, frame))

    def announce(self, kind: str, event: Any) -> None:
        """Call the listeners of ``kind`` with ``event``, as :meth:`emit` does."""
        for listener in self.listeners[kind]:
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    self.spawn(result)
            except Exception:
                log.exception("%s listener failed", kind)

    def spawn(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` in the background, kept alive until it is done."""
        task = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
