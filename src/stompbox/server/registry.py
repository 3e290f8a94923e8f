"""Where every front door gets its sessions: one factory, one connection limit, one writer.

TCP, both WebSocket front doors (the listener of ``stompbox serve`` and ASGI) and the
in-process test client open sessions here, so that ``max_connections`` is enforced and
logged one way, and so that output is written by one :class:`OutputScheduler` per
registry: once per event-loop turn, for every session that has output.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from stompbox.broker import Broker

from .config import ServerConfig
from .output import OutputScheduler
from .session import Application, ServerSession, Transport

__all__ = ["SessionRegistry"]

log = logging.getLogger("stompbox.server")


class SessionRegistry:
    """Opens, counts and stops the server sessions sharing one broker (and application)."""

    def __init__(
        self, broker: Broker, config: ServerConfig, app: Application | None = None
    ) -> None:
        self.broker = broker
        self.config = config
        self.app = app
        self.sessions: set[ServerSession] = set()
        """Open sessions of every transport."""
        self.output = OutputScheduler()

    def refusal(self, peer: str) -> str | None:
        """Why a new connection from ``peer`` cannot be served now (logged), or None.

        Each front door answers in its own way: an ERROR frame on TCP, HTTP 503 before a
        WebSocket upgrade.
        """
        limit = self.config.max_connections
        if len(self.sessions) < limit:
            return None
        log.warning("%s: refused, max_connections reached", peer)
        return f"max_connections limit of {limit} exceeded"

    def open(
        self, transport: Transport, peer: str, handshake: Mapping[str, Any] | None = None
    ) -> ServerSession:
        """A session for a new connection; it leaves the registry when its connection does."""
        session = ServerSession(
            self.broker,
            self.config,
            transport,
            peer,
            output=self.output,
            app=self.app,
            handshake=handshake,
            on_lost=self.sessions.discard,
        )
        self.sessions.add(session)
        return session

    def shutdown(self) -> None:
        """Tell every client the server is going away; each closes after its output."""
        for session in list(self.sessions):
            session.shutdown()

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the sessions to be gone."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.sessions and loop.time() < deadline:
            await asyncio.sleep(0.05)
