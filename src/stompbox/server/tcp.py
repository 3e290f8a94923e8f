"""The TCP listeners, plain and TLS: an :class:`asyncio.Protocol` per connection around a
session."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import cast

from stompbox.broker import Broker
from stompbox.net import set_keepalive
from stompbox.protocol import Frame, serialize

from .config import ServerConfig
from .registry import SessionRegistry
from .session import Application, ServerSession, Transport
from .tls import client_certificate

__all__ = ["StompProtocol", "TcpServer"]

log = logging.getLogger("stompbox.server")


class StompProtocol(asyncio.Protocol):
    """Feeds one TCP connection to a :class:`ServerSession`; nothing else. Over TLS it
    is made once the handshake is done, and hands on the client's certificate."""

    __slots__ = ("server", "session", "tls")

    def __init__(self, server: TcpServer, *, tls: bool = False) -> None:
        self.server = server
        self.tls = tls
        self.session: ServerSession | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        registry = self.server.registry
        tcp = cast(asyncio.Transport, transport)
        peername = tcp.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        if self.tls:
            peer = f"tls:{peer}"
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
        cert = client_certificate(tcp) if self.tls else None
        self.session = registry.open(cast(Transport, tcp), peer, client_cert=cert)

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
    """A running STOMP-over-TCP listener, and over TLS on ``tls_port`` when given a
    ``tls`` context; its sessions are opened in ``registry``, which WebSocket listeners of
    the same server share."""

    def __init__(
        self,
        broker: Broker,
        config: ServerConfig,
        app: Application | None = None,
        *,
        registry: SessionRegistry | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.registry = registry or SessionRegistry(broker, config, app)
        self.tls = tls
        """The server context of both TLS listeners, reloaded in place on SIGHUP."""
        self.broker = self.registry.broker
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.ws_port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tls_server: asyncio.base_events.Server | None = None

    @property
    def connections(self) -> set[ServerSession]:
        """Sessions of every transport sharing this server (WebSocket ones too)."""
        return self.registry.sessions

    async def start(self) -> None:
        if self.config.tcp:
            self._server = await self.loop.create_server(
                lambda: StompProtocol(self),
                self.config.host,
                self.config.port,
                reuse_address=True,
                backlog=1024,
            )
        if self.tls is not None and self.config.tls_port:
            self._tls_server = await self.loop.create_server(
                lambda: StompProtocol(self, tls=True),
                self.config.host,
                self.config.tls_port,
                reuse_address=True,
                backlog=1024,
                ssl=self.tls,
                ssl_handshake_timeout=self.config.connect_timeout,
            )

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``); 0 when plain TCP is off (``tcp``)."""
        if self._server is None:
            return 0
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def tls_port(self) -> int:
        """The bound STOMP-over-TLS port, 0 when there is none. (``tls_port=0`` in the
        config turns TLS off, so it cannot ask for an ephemeral port as ``port=0`` does.)"""
        if self._tls_server is None:
            return 0
        return int(self._tls_server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, tell every client, let output drain, then close."""
        listeners = [s for s in (self._server, self._tls_server) if s is not None]
        for listener in listeners:
            listener.close()
        self.registry.shutdown()
        await self.registry.drain(self.config.shutdown_grace)
        for listener in listeners:
            await listener.wait_closed()
