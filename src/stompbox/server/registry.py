"""Where every front door gets its sessions: one factory, one connection limit, one writer.

TCP, both WebSocket front doors (the listener of ``stompbox serve`` and ASGI) and the
in-process test client open sessions here, so that ``max_connections`` is enforced and
logged one way, and so that output is written by one :class:`OutputScheduler` per
registry: once per event-loop turn, for every session that has output.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from stompbox.broker import Broker

from .config import ServerConfig
from .gate import Gatekeeper, address_of
from .output import OutputScheduler
from .session import Application, ServerSession, Transport
from .traffic import Traffic

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
        self.numbers: dict[ServerSession, int] = {}
        """Each open session's number, counted from 1 in the order they opened: the
        management API's connection id (stable while it is open, never reused)."""
        self._opened = 0
        self.traffic = Traffic()
        """What every session's frames counted, for ``/metrics``."""
        self.gate = Gatekeeper(config)
        """Authentication, access rules and per-address bounds, shared by every session."""
        self.output = OutputScheduler(broker.store)
        """Writes every session's output, after the broker's store has committed what
        that output depends on (group commit)."""
        if broker.store is not None:
            broker.sync_soon = self.output.wake
        self._memory_logged_at = -10.0
        self._memory_crossings = 0
        broker.memory.watchers.append(self._memory_changed)

    def refusal(self, peer: str) -> str | None:
        """Why a new connection from ``peer`` cannot be served now (logged), or None.

        Each front door answers in its own way: an ERROR frame on TCP, HTTP 503 before a
        WebSocket upgrade.
        """
        limit = self.config.max_connections
        if len(self.sessions) >= limit:
            log.warning("%s: refused, max_connections reached", peer)
            return f"max_connections limit of {limit} exceeded"
        per_address = self.gate.connections
        if per_address.count(address_of(peer)) >= per_address.limit:
            log.warning("%s: refused, max_connections_per_address reached", peer)
            return f"max_connections_per_address limit of {per_address.limit} exceeded"
        return None

    def open(
        self,
        transport: Transport,
        peer: str,
        handshake: Mapping[str, Any] | None = None,
        client_cert: Mapping[str, Any] | None = None,
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
            on_lost=self._lost,
            client_cert=client_cert,
            gate=self.gate,
            traffic=self.traffic,
        )
        self.sessions.add(session)
        self._opened += 1
        self.numbers[session] = self._opened
        self.gate.connections.acquire(session.address)
        return session

    def _lost(self, session: ServerSession) -> None:
        self.sessions.discard(session)
        self.traffic.connection_closed(
            session.bytes_in, session.bytes_out, session.conn.receipts_sent
        )
        self.numbers.pop(session, None)
        self.gate.connections.release(session.address)

    def _memory_changed(self, over: bool) -> None:
        """Past the budget, stop reading every connected client that is not a subscriber;
        below it again, read everyone. Subscribers may need to ACK to free memory, and a
        client still connecting may be the consumer that drains the broker: those are
        paused only when a read of theirs adds to what the broker holds."""
        if over:
            self._log_memory("memory budget exceeded (%s): not reading publishers")
            for session in self.sessions:
                broker_session = session.session
                if broker_session is not None and not broker_session.subscriptions:
                    session.block_for_memory()
        else:
            self._log_memory("memory back under budget (%s): reading every client")
            for session in self.sessions:
                session.unblock_for_memory()

    def _log_memory(self, message: str) -> None:
        """Log a crossing of the budget, but not each of the many that a broker working at
        its budget makes: once per ten seconds, with a count of the rest."""
        self._memory_crossings += 1
        now = time.monotonic()
        if now - self._memory_logged_at < 10.0:
            return
        if self._memory_crossings > 1:
            message += f" ({self._memory_crossings - 1} crossings not logged before this)"
        log.warning(message, self.broker.memory.describe())
        self._memory_logged_at = now
        self._memory_crossings = 0

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
