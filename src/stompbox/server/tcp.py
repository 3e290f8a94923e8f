"""The TCP listener: an :class:`asyncio.Protocol` per connection around a session."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from stompbox.broker import Broker
from stompbox.net import set_keepalive
from stompbox.protocol import Frame, serialize

from .config import ServerConfig
from .registry import SessionRegistry
from .session import Application, ServerSession, Transport

__all__ = ["StompProtocol", "TcpServer"]

log = logging.getLogger("stompbox.server")


class StompProtocol(asyncio.Protocol):
    """Feeds one TCP connection to a :class:`ServerSession`; nothing else."""

    __slots__ = ("server", "session")

    def __init__(self, server: TcpServer) -> None:
        self.server = server
        self.session: ServerSession | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        registry = self.server.registry
        tcp = cast(asyncio.Transport, transport)
        peername = tcp.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        refusal = registry.refusal(peer)
        if refusal is not None:
            tcp.write(serialize(Frame("ERROR", (("message", refusal),)), None))
            tcp.close()
            return
        config = registry.config
        sock = tcp.get_extra_info("socket")
        if sock is not None:
            set_keepalive(sock, config.keepalive_idle)
        tcp.set_write_buffer_limits(high=config.outbound_buffer)
        log.debug("%s: connection opened", peer)
        self.session = registry.open(cast(Transport, tcp), peer)

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.data_received(data)

    def eof_received(self) -> bool | None:
        if self.session is not None:
            self.session.eof_received()
        return None

    def pause_writing(self) -> None:
        if self.session is not None:
            self.session.pause_writing()

    def resume_writing(self) -> None:
        if self.session is not None:
            self.session.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None:
            self.session.connection_lost()
            self.session = None


class TcpServer:
    """A running STOMP-over-TCP listener; its sessions are opened in ``registry``, which
    WebSocket listeners of the same server share."""

    def __init__(
        self,
        broker: Broker,
        config: ServerConfig,
        app: Application | None = None,
        *,
        registry: SessionRegistry | None = None,
    ) -> None:
        self.registry = registry or SessionRegistry(broker, config, app)
        self.broker = self.registry.broker
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.ws_port = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def connections(self) -> set[ServerSession]:
        """Sessions of every transport sharing this server (WebSocket ones too)."""
        return self.registry.sessions

    async def start(self) -> None:
        self._server = await self.loop.create_server(
            lambda: StompProtocol(self),
            self.config.host,
            self.config.port,
            reuse_address=True,
            backlog=1024,
        )

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, tell every client, let output drain, then close."""
        if self._server is not None:
            self._server.close()
        self.registry.shutdown()
        await self.registry.drain(self.config.shutdown_grace)
        if self._server is not None:
            await self._server.wait_closed()
