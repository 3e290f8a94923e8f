"""A raw STOMP client for the chaos suite, over TCP, WebSocket, or hand-made WebSocket.

It parses what the server sends with its own few lines rather than stompbox's parser, so
that a bug there cannot hide itself, and it writes whatever bytes it is given: the abuse
scenarios need frames no well-behaved client would send.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import websockets
from websockets.asyncio.client import ClientConnection

__all__ = [
    "Frame",
    "FrameReader",
    "StompClient",
    "encode_frame",
    "ws_frame",
]

SUBPROTOCOLS = ["v12.stomp", "v11.stomp", "v10.stomp"]
_ESCAPES = {"r": "\r", "n": "\n", "c": ":", "\\": "\\"}


@dataclass(slots=True)
class Frame:
    """A frame the server sent: headers in order, the first of a repeated name counts."""

    command: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    malformed: list[str] = field(default_factory=list)
    """Header lines without a colon: what a frame glued onto another looks like."""

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def __str__(self) -> str:
        return f"{self.command} {dict(self.headers)} {self.body[:200]!r}"


class FrameReader:
    """Server bytes in, frames out; heart-beat EOLs between frames are counted."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.version = "1.2"
        self.heartbeats = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames = []
        buf = self.buffer
        while buf:
            if buf[0:1] == b"\n":
                del buf[:1]
                self.heartbeats += 1
                continue
            if buf[0:2] == b"\r\n":
                del buf[:2]
                self.heartbeats += 1
                continue
            end = buf.find(b"\n\n")
            if end < 0:
                break
            lines = bytes(buf[:end]).decode("utf-8", "replace").split("\n")
            command = lines[0].rstrip("\r")
            headers = []
            malformed = []
            for line in lines[1:]:
                name, colon, value = line.rstrip("\r").partition(":")
                if not colon or not name:
                    malformed.append(line)
                if self.version != "1.0" and command != "CONNECTED":
                    name, value = _unescape(name), _unescape(value)
                headers.append((name, value))
            start = end + 2
            length = next((v for k, v in headers if k == "content-length"), None)
            if length is not None and length.isdigit():
                stop = start + int(length)
                if len(buf) < stop + 1:
                    break
            else:
                stop = buf.find(b"\0", start)
                if stop < 0:
                    break
            frame = Frame(command, headers, bytes(buf[start:stop]), malformed)
            del buf[: stop + 1]
            if command == "CONNECTED":
                self.version = frame.get("version", "1.0") or "1.0"
            frames.append(frame)
        return frames


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace(":", "\\c")


def encode_frame(
    command: str,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    escape: bool = True,
) -> bytes:
    """A well-formed STOMP 1.2 frame (header escaping on unless told otherwise)."""
    lines = [command]
    for name, value in headers:
        lines.append(f"{_escape(name)}:{_escape(value)}" if escape else f"{name}:{value}")
    return ("\n".join(lines) + "\n\n").encode() + body + b"\0"


def ws_frame(
    payload: bytes, *, opcode: int = 0x2, fin: bool = True, length: int | None = None
) -> bytes:
    """A masked client WebSocket frame; ``length`` may announce more than ``payload``
    holds, for frames left unfinished on purpose."""
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", size)
    mask = os.urandom(4)
    return head + mask + _mask(payload, mask)


def _mask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return b""
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")


class _Link:
    """One way of carrying STOMP bytes; ``read`` answers b"" at the end."""

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def read(self) -> bytes:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class _TcpStream(asyncio.Protocol):
    """A socket's bytes as they come. Unlike :class:`asyncio.StreamReader` it hands over
    what arrived before a reset rather than raising at once: a server that closes with
    unread input resets the connection, and its ERROR must still count. Like it, it stops
    reading past 64 KiB unread, so that a client that does not read stalls for real."""

    LIMIT = 1 << 16

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.ended = False
        self.readable = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.readable.set()
        if len(self.buffer) > self.LIMIT and self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        self.ended = True
        self.readable.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.readable.set()
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


class _TcpLink(_Link):
    def __init__(self, stream: _TcpStream) -> None:
        self.stream = stream
        assert stream.transport is not None
        self.transport = stream.transport

    async def write(self, data: bytes) -> None:
        if self.transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.transport.write(data)
        await self.stream.writable.wait()
        if self.transport.is_closing() and self.stream.ended:
            raise ConnectionResetError("the connection is closed")

    async def read(self) -> bytes:
        stream = self.stream
        while not stream.buffer and not stream.ended:
            stream.readable.clear()
            await stream.readable.wait()
        data = bytes(stream.buffer)
        stream.buffer.clear()
        if not stream.ended:
            self.transport.resume_reading()
        return data

    async def close(self) -> None:
        self.transport.abort()


class _WebSocketLink(_Link):
    """The ``websockets`` package's client: one STOMP write per binary message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def write(self, data: bytes) -> None:
        await self.ws.send(data)

    async def read(self) -> bytes:
        try:
            message = await self.ws.recv()
        except websockets.ConnectionClosed:
            return b""
        return message.encode() if isinstance(message, str) else message

    async def close(self) -> None:
        self.ws.transport.abort()


class _RawWebSocketLink(_TcpLink):
    """WebSocket framed by hand over a plain socket, for what the package would refuse to
    send, and for clients that must stop reading for real."""

    def __init__(self, stream: _TcpStream, pending: bytes = b"") -> None:
        super().__init__(stream)
        self.pending = bytearray(pending)

    async def write(self, data: bytes) -> None:
        await self.write_raw(ws_frame(data))

    async def write_raw(self, data: bytes) -> None:
        await super().write(data)

    async def read(self) -> bytes:
        """The next data payload; a buffer survives a read cancelled by a timeout."""
        buf = self.pending
        while True:
            if len(buf) >= 2:
                size, start = buf[1] & 0x7F, 2
                if size == 126 and len(buf) >= 4:
                    size, start = struct.unpack("!H", buf[2:4])[0], 4
                elif size == 127 and len(buf) >= 10:
                    size, start = struct.unpack("!Q", buf[2:10])[0], 10
                if (size < 126 or start > 2) and len(buf) >= start + size:
                    opcode = buf[0] & 0x0F
                    payload = bytes(buf[start : start + size])
                    del buf[: start + size]
                    if opcode == 0x8:
                        return b""
                    if opcode in (0x0, 0x1, 0x2) and payload:
                        return payload
                    continue
            data = await super().read()
            if not data:
                return b""
            buf += data


class StompClient:
    """A STOMP connection driven by hand. Frames read are also kept in ``received``."""

    opened: ClassVar[set[StompClient]] = set()
    """Every client not yet closed."""

    def __init__(self, link: _Link, local_port: int) -> None:
        StompClient.opened.add(self)
        self.link = link
        self.local_port = local_port
        """This end's port, to find the server's end in /proc/net/tcp."""
        self.reader = FrameReader()
        self.pending: list[Frame] = []
        self.received: list[Frame] = []
        self.eof = False

    # -- opening ----------------------------------------------------------------------

    @classmethod
    async def tcp(cls, port: int, *, rcvbuf: int | None = None) -> StompClient:
        stream = await _open_socket(port, rcvbuf)
        link = _TcpLink(stream)
        return cls(link, link.transport.get_extra_info("sockname")[1])

    @classmethod
    async def websocket(cls, port: int, path: str = "/ws") -> StompClient:
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}{path}",
            subprotocols=[websockets.Subprotocol(p) for p in SUBPROTOCOLS],
            max_size=None,
            ping_interval=None,
            open_timeout=10,
        )
        return cls(_WebSocketLink(ws), ws.transport.get_extra_info("sockname")[1])

    @classmethod
    async def raw_websocket(
        cls, port: int, path: str = "/ws", *, rcvbuf: int | None = None
    ) -> StompClient:
        stream = await _open_socket(port, rcvbuf)
        link = _TcpLink(stream)
        key = base64.b64encode(os.urandom(16)).decode()
        link.transport.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {', '.join(SUBPROTOCOLS)}"
                "\r\n\r\n"
            ).encode()
        )
        head = b""
        try:
            async with asyncio.timeout(10):
                while b"\r\n\r\n" not in head:
                    data = await link.read()
                    if not data:
                        raise ConnectionError("closed during the upgrade")
                    head += data
        except (OSError, TimeoutError) as exc:
            link.transport.abort()
            raise ConnectionError(f"WebSocket upgrade failed: {exc!r}") from None
        if not head.startswith(b"HTTP/1.1 101"):
            link.transport.abort()
            raise ConnectionError(f"WebSocket upgrade refused: {head[:200]!r}")
        rest = head[head.index(b"\r\n\r\n") + 4 :]
        local = link.transport.get_extra_info("sockname")[1]
        return cls(_RawWebSocketLink(stream, rest), local)

    @classmethod
    async def open(cls, kind: str, port: int) -> StompClient:
        """``kind`` is "tcp", "ws" or "rawws"; ``port`` the listener of that kind."""
        if kind == "tcp":
            return await cls.tcp(port)
        if kind == "ws":
            return await cls.websocket(port)
        return await cls.raw_websocket(port)

    # -- writing ----------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        await self.link.write(data)

    async def write_ws_raw(self, data: bytes) -> None:
        """Bytes straight onto a hand-made WebSocket's TCP stream (frames of
        :func:`ws_frame`, finished or not)."""
        assert isinstance(self.link, _RawWebSocketLink)
        await self.link.write_raw(data)

    async def send_frame(
        self, command: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        await self.write(encode_frame(command, headers, body))

    async def connect(
        self,
        version: str = "1.2",
        heartbeat: tuple[int, int] = (0, 0),
        headers: Iterable[tuple[str, str]] = (),
        timeout: float = 10.0,
    ) -> Frame:
        await self.send_frame(
            "CONNECT",
            [
                ("accept-version", version),
                ("host", "/"),
                ("heart-beat", f"{heartbeat[0]},{heartbeat[1]}"),
                *headers,
            ],
        )
        frame = await self.read_frame(timeout)
        if frame.command != "CONNECTED":
            raise AssertionError(f"CONNECT answered with {frame}")
        return frame

    # -- reading ----------------------------------------------------------------------

    async def _fill(self) -> None:
        data = await self.link.read()
        if not data:
            self.eof = True
            raise EOFError("the server closed the connection")
        frames = self.reader.feed(data)
        self.pending += frames
        self.received += frames

    async def read_frame(self, timeout: float = 10.0) -> Frame:
        """The next frame; TimeoutError or EOFError if none comes."""
        async with asyncio.timeout(timeout):
            while not self.pending:
                if self.eof:
                    raise EOFError("the server closed the connection")
                try:
                    await self._fill()
                except ConnectionError as exc:
                    self.eof = True
                    raise EOFError(str(exc)) from None
        return self.pending.pop(0)

    async def until(self, command: str, timeout: float = 10.0) -> Frame:
        """Frames are read (and kept in ``received``) until one of ``command``."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.read_frame(max(0.0, deadline - time.monotonic()))
            if frame.command == command:
                return frame

    async def closed_by_server(self, timeout: float) -> bool:
        """Read (keeping frames) until the server closes; False if it did not in time."""
        try:
            async with asyncio.timeout(timeout):
                while not self.eof:
                    try:
                        await self._fill()
                    except (EOFError, ConnectionError):
                        self.eof = True
        except TimeoutError:
            return False
        return True

    def errors(self) -> list[Frame]:
        return [f for f in self.received if f.command == "ERROR"]

    async def close(self) -> None:
        if self in StompClient.opened:
            StompClient.opened.discard(self)
            with contextlib.suppress(Exception):
                await self.link.close()

    @classmethod
    async def close_all(cls) -> None:
        """Close every client still open, before the event loop they belong to ends."""
        for client in list(cls.opened):
            await client.close()
        await asyncio.sleep(0)  # let the transports finish closing


async def _open_socket(port: int, rcvbuf: int | None) -> _TcpStream:
    sock = socket.socket()
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        _, stream = await loop.create_connection(_TcpStream, sock=sock)
        return stream
    except BaseException:
        sock.close()
        raise
