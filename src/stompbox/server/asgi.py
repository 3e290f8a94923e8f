"""STOMP over WebSocket as an ASGI application, to mount beside HTTP routes (Starlette,
FastAPI) and run under uvicorn or any ASGI server.

The same sessions as TCP and the ``stompbox serve`` listener
(:mod:`stompbox.server.websocket`); a :class:`MessageTransport` turns the session's byte
writes into ASGI ``websocket.send`` messages: text when the bytes are valid UTF-8
(browsers require it of text), binary otherwise. A message may hold one frame or many, in
both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from stompbox.broker import Broker
from stompbox.net import choose_subprotocol
from stompbox.security.origins import OriginPolicy

from .config import ServerConfig
from .registry import SessionRegistry
from .session import Application, ServerSession
from .sweep import sweep_expired

__all__ = ["MessageTransport", "StompASGI"]

log = logging.getLogger("stompbox.server")

_LINGER = 1.0  # seconds a writer task waits for more output before it goes away

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class MessageTransport:
    """A :class:`~stompbox.server.session.Transport` over WebSocket messages.

    Writes are queued and sent in order by a task that exists only while there is output
    (an idle connection holds no task and no event); past ``limit`` queued bytes the
    session is told to stop writing (as TCP's ``pause_writing``), and below half of it to
    resume. ``pause_reading`` makes the receive loop wait.
    """

    __slots__ = (
        "_closer",
        "_closing",
        "_closing_task",
        "_limit",
        "_more",
        "_paused_reading",
        "_paused_writing",
        "_queue",
        "_queued",
        "_send_bytes",
        "_send_text",
        "_writer",
        "session",
    )

    def __init__(
        self,
        send_text: Callable[[str], Awaitable[None]],
        send_bytes: Callable[[bytes], Awaitable[None]],
        limit: int,
        closer: Callable[[], Awaitable[None]],
    ) -> None:
        self._send_text = send_text
        self._send_bytes = send_bytes
        self._closer: Callable[[], Awaitable[None]] | None = closer
        self._closing_task: asyncio.Task[None] | None = None
        self._limit = limit
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._writer: asyncio.Task[None] | None = None
        self._more: asyncio.Event | None = None  # set while the writer waits for output
        self._closing = False
        self._paused_writing = False
        self._paused_reading: asyncio.Event | None = None
        self.session: ServerSession | None = None

    # Transport, called by the session
    def write(self, data: bytes) -> None:
        if self._closing:
            return
        self._queue.append(data)
        self._queued += len(data)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        elif self._more is not None:
            self._more.set()
        if self._queued > self._limit and not self._paused_writing and self.session is not None:
            self._paused_writing = True
            self.session.pause_writing()

    def writelines(self, data: list[bytes]) -> None:
        self.write(data[0] if len(data) == 1 else b"".join(data))

    def close(self) -> None:
        """Close once the output is sent, as asyncio transports do; the receive loop then
        sees the connection end even if the client says nothing more."""
        if self._closing:
            return
        self._closing = True
        if self._more is not None:
            self._more.set()
        self.resume_reading()  # a receive loop paused by the session must see the close
        self._closing_task = asyncio.get_running_loop().create_task(self._close_after_drain())

    async def _close_after_drain(self) -> None:
        closer, self._closer = self._closer, None
        with contextlib.suppress(Exception):
            await self.drain()
            if closer is not None:
                await closer()

    def is_closing(self) -> bool:
        return self._closing

    def can_write_eof(self) -> bool:
        return False  # a WebSocket closes with its own handshake

    def write_eof(self) -> None:
        raise NotImplementedError

    def get_write_buffer_size(self) -> int:
        return self._queued

    def pause_reading(self) -> None:
        if self._paused_reading is None:
            self._paused_reading = asyncio.Event()

    def resume_reading(self) -> None:
        if self._paused_reading is not None:
            self._paused_reading.set()
            self._paused_reading = None

    async def wait_readable(self) -> None:
        """Return at once, or when reading resumes after ``pause_reading``."""
        while self._paused_reading is not None:
            await self._paused_reading.wait()

    async def drain(self) -> None:
        """Wait until everything written so far has been sent."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write_all(self) -> None:
        """Send the queue; then linger a second for more, so that a busy connection keeps
        one task rather than starting one per burst, and an idle one keeps none."""
        queue = self._queue
        try:
            while True:
                while queue:
                    data = queue.popleft() if len(queue) == 1 else _take_all(queue)
                    self._queued -= len(data)
                    try:
                        text = data.decode()
                    except UnicodeDecodeError:
                        await self._send_bytes(data)
                    else:
                        await self._send_text(text)
                    if (
                        self._paused_writing
                        and self._queued < self._limit // 2
                        and self.session is not None
                    ):
                        self._paused_writing = False
                        self.session.resume_writing()
                if self._closing:
                    return
                self._more = more = asyncio.Event()
                try:
                    async with asyncio.timeout(_LINGER):
                        await more.wait()
                except TimeoutError:
                    if not queue:
                        return
                finally:
                    self._more = None
        finally:
            self._writer = None


async def pump(
    transport: MessageTransport,
    session: ServerSession,
    receive: Callable[[], Awaitable[bytes | None]],
    grace: float,
) -> None:
    """Feed received messages to the session until either side ends, then let the
    output drain (at most ``grace`` seconds) and tell the session it is over."""
    try:
        while not transport.is_closing():
            await transport.wait_readable()
            data = await receive()
            if data is None:
                break
            session.data_received(data)
        transport.close()
        await asyncio.wait_for(transport.drain(), grace)
    except (TimeoutError, OSError, RuntimeError):
        pass  # the peer went away mid-write
    finally:
        session.connection_lost()


def _take_all(queue: deque[bytes]) -> bytes:
    data = b"".join(queue)
    queue.clear()
    return data


class StompASGI:
    """An ASGI application serving STOMP over WebSocket on every path it is mounted at.

    ``broker`` is shared with whatever else should reach it (an application, a TCP
    listener); HTTP requests get ``426 Upgrade Required``. Handshakes from web pages of
    origins other than the app's own and ``config.allowed_origins`` get 403.
    """

    def __init__(
        self,
        broker: Broker | None = None,
        config: ServerConfig | None = None,
        app: Application | None = None,
        *,
        registry: SessionRegistry | None = None,
    ) -> None:
        if registry is None:
            config = config or ServerConfig()
            registry = SessionRegistry(broker or Broker(config.broker), config, app)
        self.registry = registry
        self.config = registry.config
        self.broker = registry.broker
        self.origins = OriginPolicy(self.config.allowed_origins)
        self._sweeper: asyncio.Task[None] | None = None
        """Takes expired messages out of queues while the lifespan runs (server/sweep.py)."""

    @property
    def connections(self) -> set[ServerSession]:
        return self.registry.sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                app = self.registry.app
                if message["type"] == "lifespan.startup":
                    if app is not None:
                        await app.start()
                    self._sweeper = asyncio.create_task(sweep_expired(self.broker))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._sweeper is not None:
                        self._sweeper.cancel()
                    self.registry.shutdown()
                    if app is not None:
                        await app.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:
            body = b"STOMP over WebSocket: connect with a WebSocket client\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 426,
                    "headers": [(b"content-type", b"text/plain"), (b"upgrade", b"websocket")],
                }
            )
            await send({"type": "http.response.body", "body": body})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        client = scope.get("client") or ("?", 0)
        peer = f"ws:{client[0]}:{client[1]}"
        origin, host = _origin_and_host(scope)
        if not self.origins.allows(origin, host):
            log.warning("%s: WebSocket handshake refused: origin %r is not allowed", peer, origin)
            await _refuse(send, scope, 403, "origin not allowed")
            return
        refusal = self.registry.refusal(peer)
        if refusal is not None:
            await _refuse(send, scope, 503, refusal)
            return
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": choose_subprotocol(scope.get("subprotocols", [])),
            }
        )

        disconnected = False

        async def send_text(text: str) -> None:
            await send({"type": "websocket.send", "text": text})

        async def send_bytes(data: bytes) -> None:
            await send({"type": "websocket.send", "bytes": data})

        closed = False

        async def close() -> None:
            nonlocal closed
            if not closed and not disconnected:
                closed = True
                await send({"type": "websocket.close", "code": 1000})

        transport = MessageTransport(send_text, send_bytes, self.config.outbound_buffer, close)
        session = self.registry.open(transport, peer, scope)
        transport.session = session

        async def next_message() -> bytes | None:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "websocket.disconnect":
                disconnected = True
                return None
            data = message.get("bytes")
            return data if data is not None else (message.get("text") or "").encode()

        await pump(transport, session, next_message, self.config.shutdown_grace)
        with contextlib.suppress(OSError, RuntimeError):
            await close()


def _origin_and_host(scope: Scope) -> tuple[str | None, str | None]:
    """The handshake's ``Origin`` and ``Host`` (None unless exactly one; several origins
    come out as one malformed value, which is refused)."""
    origins, hosts = [], []
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            origins.append(value.decode("latin-1"))
        elif name == b"host":
            hosts.append(value.decode("latin-1"))
    return ", ".join(origins) or None, hosts[0] if len(hosts) == 1 else None


_CLOSE_CODES = {403: 1008, 503: 1013}
"""Where HTTP denial is not supported: policy violation, try again later."""


async def _refuse(send: Send, scope: Scope, status: int, reason: str) -> None:
    """HTTP ``status`` (403 or 503) instead of the upgrade where the ASGI server supports
    denial responses (the ``websocket.http.response`` extension), else a close with the
    matching WebSocket code."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": []})
        await send({"type": "websocket.http.response.body", "body": f"{reason}\n".encode()})
    else:
        await send({"type": "websocket.close", "code": _CLOSE_CODES[status], "reason": reason})
