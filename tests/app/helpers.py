"""What the application tests share: a way to serve an app over each transport, and
uvicorn for ASGI apps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn

import stompbox
from stompbox.app import StompApp, TestClient

from ..support import free_port

Connect = Callable[..., contextlib.AbstractAsyncContextManager[stompbox.Client]]


@contextlib.asynccontextmanager
async def serving(app: StompApp, transport: str) -> AsyncIterator[Connect]:
    """Yield a way to make connected clients of ``app``: in process (``memory``), over
    the WebSocket listener of ``serve_tcp`` (``websocket``), or over its TCP listener
    (``tcp``)."""
    if transport == "memory":
        yield lambda **options: TestClient(app, **options)
        return
    ws_port = free_port()
    async with app.serve_tcp(port=0, ws_port=ws_port) as server:
        if transport == "tcp":
            url = f"stomp://127.0.0.1:{server.port}/"
        else:
            url = f"ws://127.0.0.1:{ws_port}/ws"
        yield lambda **options: stompbox.connect(url, **options)


@contextlib.asynccontextmanager
async def under_uvicorn(web: Any) -> AsyncIterator[int]:
    """Run an ASGI app under uvicorn on a free port; yield the port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(web, port=port, log_level="warning", ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
