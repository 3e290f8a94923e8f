"""Real servers on real sockets for the server tests: one in a thread, and raw clients."""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
from typing import Any

import stomp

from stompbox.broker import Broker
from stompbox.protocol import Frame, FrameParser
from stompbox.server import ServerConfig, start_server
from stompbox.server.tcp import TcpServer


class ServerThread:
    """Runs a stompbox server on its own event loop, so blocking clients can use it."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.port = 0
        self.broker: Broker | None = None
        self.server: TcpServer | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.broker = Broker(self.config.broker)
        async with start_server(self.config, self.broker) as server:
            self.server = server
            self.port = server.port
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


OPEN_CLIENTS: list[RawClient] = []


class RawClient:
    """A plain socket speaking bytes, for malformed input and exact wire checks."""

    def __init__(self, port: int, *, rcvbuf: int | None = None) -> None:
        OPEN_CLIENTS.append(self)
        self.sock = socket.socket()
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(5)
        self.parser = FrameParser(None)
        self.frames: list[Frame] = []
        self.raw = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def connect(self, version: str = "1.2", extra: bytes = b"") -> Frame:
        self.send(b"CONNECT\naccept-version:" + version.encode() + b"\nhost:x\n" + extra + b"\n\0")
        frame = self.next_frame()
        assert frame.command == "CONNECTED", frame
        self.parser.version = version
        return frame

    def next_frame(self, timeout: float = 5.0) -> Frame:
        deadline = time.monotonic() + timeout
        while not self.frames:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.raw += data
            self.parser.feed(data)
            self.frames.extend(self.parser.frames())
        return self.frames.pop(0)

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """Read until EOF; True if the server closed within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return False
            except ConnectionResetError:
                return True
            if not data:
                return True
            self.raw += data
            self.parser.feed(data)
            self.frames.extend(self.parser.frames())
        return False

    def close(self) -> None:
        self.sock.close()


class Listener(stomp.ConnectionListener):  # type: ignore[misc]
    """Collects what stomp.py receives, to be awaited with :meth:`get`."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()
        self.errors: queue.Queue[Any] = queue.Queue()
        self.receipts: queue.Queue[str] = queue.Queue()
        self.disconnected = threading.Event()

    def on_message(self, frame: Any) -> None:
        self.messages.put(frame)

    def on_error(self, frame: Any) -> None:
        self.errors.put(frame)

    def on_receipt(self, frame: Any) -> None:
        self.receipts.put(frame.headers["receipt-id"])

    def on_disconnected(self) -> None:
        self.disconnected.set()

    def get(self, timeout: float = 5.0) -> Any:
        return self.messages.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


def stomp_client(port: int, version: str = "1.2", **connect: Any) -> tuple[Any, Listener]:
    """A connected stomp.py client of the given protocol version, and its listener."""
    cls = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}[version]
    conn = cls([("127.0.0.1", port)])
    listener = Listener()
    conn.set_listener("", listener)
    conn.connect(
        connect.pop("username", "guest"), connect.pop("passcode", "guest"), wait=True, **connect
    )
    return conn, listener
