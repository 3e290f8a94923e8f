"""Byte streams under the client: TCP (optionally TLS) and WebSocket."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from typing import Any, Protocol, cast

from stompbox.net import SUBPROTOCOLS, BrokerURL, set_keepalive

__all__ = ["Stream", "open_stream"]


class Stream(Protocol):
    async def read(self) -> bytes:
        """Next bytes from the broker; ``b""`` at end of stream."""

    async def write(self, data: bytes) -> None: ...

    async def writelines(self, chunks: list[bytes]) -> None:
        """Write ``chunks`` in order (one frame's head and body, say), without joining
        them where the stream can help it."""

    async def close(self) -> None: ...


CLOSE_TIMEOUT = 2.0
READ_BUFFER = 64 * 1024
"""What a TCP stream reads ahead of its reader (then the socket pauses): a peer that is
not read is not buffered here without bound. Frames of any size still arrive, a read at
a time."""


class _Inbound(asyncio.Protocol):
    """A TCP connection's protocol: what arrives is kept as the transport handed it and
    given to the reader as it is (asyncio's StreamReader copies every byte twice, into
    its buffer and out of it); writing waits while the transport's buffer is full."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.ended = False
        self.closed: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._arrived: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        self._wake()
        if self.size > READ_BUFFER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self._wake()
        self.resume_writing()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        arrived, self._arrived = self._arrived, None
        if arrived is not None and not arrived.done():
            arrived.set_result(None)

    async def read(self) -> bytes:
        while not self.chunks:
            if self.ended:
                return b""
            self._arrived = self._loop.create_future()
            await self._arrived
        data = self.chunks.popleft()
        self.size -= len(data)
        if self._reading_paused and self.size <= READ_BUFFER and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def drain(self) -> None:
        if self.ended:
            raise ConnectionResetError("the connection is closed")
        if self._drained is not None:
            await self._drained


class TcpStream:
    def __init__(self, transport: asyncio.Transport, protocol: _Inbound) -> None:
        self.transport = transport
        self.protocol = protocol

    async def read(self) -> bytes:
        return await self.protocol.read()

    async def write(self, data: bytes) -> None:
        self.transport.write(data)
        await self.protocol.drain()

    async def writelines(self, chunks: list[bytes]) -> None:
        self.transport.writelines(chunks)  # uvloop writes them without joining
        await self.protocol.drain()

    async def close(self) -> None:
        """Close after what is buffered is written, or at once if the peer does not take
        it within :data:`CLOSE_TIMEOUT` (a broker under flow control reads nothing)."""
        self.transport.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.protocol.closed
        except TimeoutError:
            self.transport.abort()


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

    async def writelines(self, chunks: list[bytes]) -> None:
        await self.write(b"".join(chunks))  # one WebSocket message per write

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
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        lambda: _Inbound(loop), url.host, url.port, ssl=context
    )
    if keepalive is not None:
        _set_keepalive(transport, keepalive)
    return TcpStream(transport, protocol)


def _set_keepalive(transport: asyncio.BaseTransport, idle: int) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        set_keepalive(sock, idle)
