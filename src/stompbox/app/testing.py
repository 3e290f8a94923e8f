"""Testing an application without a network: :class:`TestClient` and a pytest plugin.

``TestClient(app)`` is a real :class:`stompbox.Client` whose bytes go to a real
:class:`~stompbox.server.session.ServerSession` of the app through memory, in the same
event loop: every protocol rule, handler and broker path runs as in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stompbox.client import Client
from stompbox.server.session import ServerSession

if TYPE_CHECKING:
    from .app import StompApp

__all__ = ["TestClient"]


class _ServerEnd:
    """The server session's transport: writes go to the client's read queue."""

    def __init__(self, to_client: asyncio.Queue[bytes]) -> None:
        self.to_client = to_client
        self.session: ServerSession | None = None
        self.closing = False

    def write(self, data: bytes) -> None:
        if not self.closing:
            self.to_client.put_nowait(data)

    def writelines(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.to_client.put_nowait(b"")
        session = self.session
        if session is not None:
            asyncio.get_running_loop().call_soon(session.connection_lost)

    def is_closing(self) -> bool:
        return self.closing

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError

    def get_write_buffer_size(self) -> int:
        return 0  # the client's queue is read as it fills

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _ClientEnd:
    """The client's stream: reads from the queue, writes straight into the session."""

    def __init__(self, server: _ServerEnd, to_client: asyncio.Queue[bytes]) -> None:
        self.server = server
        self.to_client = to_client

    async def read(self) -> bytes:
        return await self.to_client.get()

    async def write(self, data: bytes) -> None:
        if not self.server.closing and self.server.session is not None:
            self.server.session.data_received(data)

    async def writelines(self, chunks: list[bytes]) -> None:
        await self.write(b"".join(chunks))

    async def close(self) -> None:
        self.server.close()


class TestClient:
    """``async with TestClient(app, login="alice") as client:`` - a connected client."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: StompApp,
        *,
        login: str | None = None,
        passcode: str | None = None,
        handshake: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.handshake = handshake
        options.setdefault("heartbeat", (0, 0))
        self.client = Client(
            "stomp://testclient/",
            login=login,
            passcode=passcode,
            stream_factory=self._open,
            **options,
        )

    async def _open(self) -> _ClientEnd:
        to_client: asyncio.Queue[bytes] = asyncio.Queue()
        server = _ServerEnd(to_client)
        server.session = self.app.registry.open(server, "testclient", self.handshake)
        return _ClientEnd(server, to_client)

    async def __aenter__(self) -> Client:
        await self.app.start()
        try:
            await self.client.open()
        except BaseException:
            await self.app.stop()
            raise
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.client.close()
        finally:
            await self.app.stop()
