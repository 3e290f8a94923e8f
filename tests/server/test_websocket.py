"""STOMP over WebSocket: the serve listener and the ASGI app, with real WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

import stompbox
from stompbox.protocol import Frame, FrameParser
from stompbox.server import ServerConfig, StompASGI, start_server

from ..support import free_port, run


@contextlib.asynccontextmanager
async def ws_server(**config: Any) -> AsyncIterator[str]:
    async with start_server(ServerConfig(port=0, ws_port=free_port(), **config)) as server:
        yield f"ws://127.0.0.1:{server.ws_port}/ws"


class WsPeer:
    """A raw WebSocket STOMP peer that records message kinds (text or binary)."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.parser = FrameParser(None)
        self.kinds: list[str] = []
        self.frames: list[Frame] = []

    async def frame(self) -> Frame:
        while not self.frames:
            message = await asyncio.wait_for(self.websocket.recv(), 5)
            self.kinds.append("text" if isinstance(message, str) else "binary")
            self.parser.feed(message.encode() if isinstance(message, str) else message)
            self.frames.extend(self.parser.frames())
        return self.frames.pop(0)

    async def connect(self) -> Frame:
        await self.websocket.send("CONNECT\naccept-version:1.2\nhost:/\n\n\0")
        connected = await self.frame()
        self.parser.version = "1.2"
        return connected


def test_subprotocols_and_frames() -> None:
    async def main() -> None:
        async with (
            ws_server() as url,
            ws_connect(url, subprotocols=["v11.stomp", "v12.stomp"]) as ws,  # type: ignore[list-item]
        ):
            assert ws.subprotocol == "v12.stomp"
            peer = WsPeer(ws)
            assert (await peer.connect()).command == "CONNECTED"
            # several frames in one message, then a binary body
            await ws.send(
                "SUBSCRIBE\nid:1\ndestination:/queue/ws\nreceipt:r\n\n\0"
                "SEND\ndestination:/queue/ws\n\nhello\0"
            )
            assert (await peer.frame()).command == "RECEIPT"
            assert (await peer.frame()).body == b"hello"
            await ws.send(b"SEND\ndestination:/queue/ws\ncontent-length:3\n\n\xff\x00\xfe\0")
            binary = await peer.frame()
            assert binary.body == b"\xff\x00\xfe"
            assert peer.kinds[-1] == "binary"
            assert "text" in peer.kinds

    run(main())


def test_client_offering_no_subprotocol_is_accepted() -> None:
    async def main() -> None:
        async with ws_server() as url, ws_connect(url) as ws:
            assert ws.subprotocol is None
            assert (await WsPeer(ws).connect()).command == "CONNECTED"

    run(main())


def test_wrong_path_is_404() -> None:
    async def main() -> None:
        async with ws_server() as url:
            with pytest.raises(InvalidStatus) as info:
                async with ws_connect(url.replace("/ws", "/nope")):
                    pass
            assert info.value.response.status_code == 404

    run(main())


def test_errors_reach_websocket_clients() -> None:
    async def main() -> None:
        async with ws_server() as url, ws_connect(url, subprotocols=["v12.stomp"]) as ws:  # type: ignore[list-item]
            peer = WsPeer(ws)
            await peer.connect()
            await ws.send("SEND\ndestination:/nowhere\nreceipt:x\n\n\0")
            error = await peer.frame()
            assert error.command == "ERROR"
            assert error.get("receipt-id") == "x"

    run(main())


def test_websocket_and_tcp_share_the_broker() -> None:
    async def main() -> None:
        async with start_server(ServerConfig(port=0, ws_port=free_port())) as server:
            tcp = f"stomp://127.0.0.1:{server.port}/"
            ws = f"ws://127.0.0.1:{server.ws_port}/ws"
            async with (
                stompbox.connect(ws) as browser,
                stompbox.connect(tcp) as script,
                browser.subscribe("/topic/prices") as prices,
            ):
                await script.send("/topic/prices", {"ibm": 100}, receipt=True)
                assert (await prices.get(5)).json() == {"ibm": 100}
                await browser.send("/topic/prices", b"\x00binary", receipt=True)
                assert (await prices.get(5)).body == b"\x00binary"

    run(main())


def test_asgi_app_mounted_in_starlette_under_uvicorn() -> None:
    async def main() -> None:
        stomp = StompASGI(config=ServerConfig(port=0, ws_port=0))
        app = Starlette(
            routes=[
                Route("/", lambda request: PlainTextResponse("http beside stomp")),
                WebSocketRoute("/stomp", stomp),
            ]
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
            )
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.02)
        try:
            async with (
                stompbox.connect(f"ws://127.0.0.1:{port}/stomp") as a,
                stompbox.connect(f"ws://127.0.0.1:{port}/stomp") as b,
                a.subscribe("/queue/asgi") as sub,
            ):
                await b.send("/queue/asgi", "through uvicorn", receipt=True)
                assert (await sub.get(5)).text == "through uvicorn"
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            assert b"http beside stomp" in await reader.read()
            writer.close()
        finally:
            server.should_exit = True
            await task

    run(main())


def test_asgi_app_answers_http_with_426() -> None:
    import httpx

    async def main() -> None:
        stomp = StompASGI(config=ServerConfig(port=0, ws_port=0))
        transport = httpx.ASGITransport(app=stomp)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/")
        assert response.status_code == 426
        assert response.headers["upgrade"] == "websocket"

    run(main())


def test_a_silent_websocket_client_is_closed_by_heartbeats() -> None:
    async def main() -> None:
        async with (
            ws_server(heartbeat=(0, 100), heartbeat_floor=100) as url,
            ws_connect(url, subprotocols=["v12.stomp"]) as ws,  # type: ignore[list-item]
        ):
            await ws.send("CONNECT\naccept-version:1.2\nheart-beat:100,0\n\n\0")
            peer = WsPeer(ws)
            assert (await peer.frame()).command == "CONNECTED"
            peer.parser.version = "1.2"
            error = await peer.frame()
            assert error.get("message") == "heart-beat timeout"
            await asyncio.wait_for(ws.wait_closed(), 5)  # closed without a word from us

    run(main())


def test_asgi_session_error_closes_the_websocket() -> None:
    async def main() -> None:
        stomp = StompASGI(
            config=ServerConfig(port=0, ws_port=0, heartbeat=(0, 100), heartbeat_floor=100)
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                stomp, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
            )
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        try:
            async with ws_connect(f"ws://127.0.0.1:{port}/", subprotocols=["v12.stomp"]) as ws:  # type: ignore[list-item]
                await ws.send("CONNECT\naccept-version:1.2\nheart-beat:100,0\n\n\0")
                peer = WsPeer(ws)
                assert (await peer.frame()).command == "CONNECTED"
                peer.parser.version = "1.2"
                assert (await peer.frame()).get("message") == "heart-beat timeout"
                await asyncio.wait_for(ws.wait_closed(), 5)
        finally:
            server.should_exit = True
            await task

    run(main())
