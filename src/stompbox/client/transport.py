"""Byte streams under the client: TCP (optionally TLS) and WebSocket."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from typing import Any, Protocol

from stompbox.net import SUBPROTOCOLS, BrokerURL, set_keepalive

__all__ = ["Stream", "open_stream"]


class Stream(Protocol):
    async def read(self) -> bytes:
        """Next bytes from the broker; ``b""`` at end of stream."""

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


CLOSE_TIMEOUT = 2.0
READ_BUFFER = 64 * 1024
"""What a TCP stream reads ahead of its reader (twice this, then the socket pauses): a
peer that is not read is not buffered here without bound. Frames of any size still
arrive, a read at a time."""


class TcpStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self) -> bytes:
        try:
            return await self.reader.read(1 << 16)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        """Close after what is buffered is written, or at once if the peer does not take
        it within :data:`CLOSE_TIMEOUT` (a broker under flow control reads nothing)."""
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_TIMEOUT)
        except TimeoutError:
            self.writer.transport.abort()
        except (ConnectionError, OSError, ssl_module.SSLError):
            pass


class WebSocketStream:
    """STOMP over WebSocket: text messages when the bytes are UTF-8, binary otherwise."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket

    async def read(self) -> bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            message = await self.websocket.recv()
        except ConnectionClosed:
            return b""
        return message.encode() if isinstance(message, str) else bytes(message)

    async def write(self, data: bytes) -> None:
        try:
            text = data.decode()
        except UnicodeDecodeError:
            await self.websocket.send(data)
        else:
            await self.websocket.send(text)

    async def close(self) -> None:
        await self.websocket.close()


async def open_stream(
    url: BrokerURL,
    ssl: ssl_module.SSLContext | None,
    max_size: int,
    *,
    keepalive: int | None = None,
) -> Stream:
    """Open the byte stream ``url`` names: TCP for ``stomp``, TLS for ``stomps``,
    WebSocket for ``ws``/``wss``. The one way the package connects to a broker.

    ``keepalive`` turns on TCP keep-alive after that many idle seconds, for connections
    that negotiate no heart-beats and would otherwise never notice a dead peer.
    """
    context = ssl if ssl is not None else (ssl_module.create_default_context() if url.tls else None)
    if url.websocket:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        scheme = "wss" if url.tls else "ws"
        websocket = await connect(
            f"{scheme}://{url.host}:{url.port}{url.path}",
            subprotocols=[Subprotocol(p) for p in SUBPROTOCOLS],
            ssl=context,
            max_size=max_size,
            ping_interval=None,  # STOMP heart-beats do this job
        )
        if keepalive is not None:
            _set_keepalive(websocket.transport, keepalive)
        return WebSocketStream(websocket)
    reader, writer = await asyncio.open_connection(
        url.host, url.port, ssl=context, limit=READ_BUFFER
    )
    if keepalive is not None:
        _set_keepalive(writer.transport, keepalive)
    return TcpStream(reader, writer)


def _set_keepalive(transport: asyncio.BaseTransport, idle: int) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        set_keepalive(sock, idle)
