"""STOMP over SockJS through the listener of ``stompbox serve``: the request under
``ws_path/`` is handed to the SockJS endpoint, and each SockJS session is a STOMP
session with the same broker, Origin policy and authentication as WebSocket ones."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect as ws_connect

import stompbox
from stompbox.security.config import SecurityConfig
from stompbox.server import ServerConfig, start_server

from ..support import free_port, run

CONNECT = "CONNECT\naccept-version:1.2\nhost:/\n\n\0"


@contextlib.asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[str]:
    """A server with a WebSocket port; yields the SockJS base URL (``http://.../ws``)."""
    ws_port = free_port()
    config = ServerConfig(port=0, ws_port=ws_port, **options)
    async with start_server(config):
        yield f"http://127.0.0.1:{ws_port}/ws"


class XhrStreaming:
    """The browser side of SockJS's xhr-streaming transport, as sockjs-client drives it."""

    def __init__(self, http: httpx.AsyncClient, base: str, session: str = "s1") -> None:
        self.http = http
        self.url = f"{base}/000/{session}"
        self.frames: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.status = 0

    async def open(self, headers: dict[str, str] | None = None, query: str = "") -> None:
        opened = asyncio.get_running_loop().create_future()

        async def stream() -> None:
            url = f"{self.url}/xhr_streaming{query}"
            async with self.http.stream("POST", url, headers=headers) as response:
                self.status = response.status_code
                if not opened.done():
                    opened.set_result(None)
                async for line in response.aiter_lines():
                    if line.strip("h"):
                        await self.frames.put(line)

        self._task = asyncio.create_task(stream())
        await opened

    async def send(self, *messages: str) -> None:
        response = await self.http.post(f"{self.url}/xhr_send", content=json.dumps(messages))
        assert response.status_code == 204, response.text

    async def messages(self, timeout: float = 5) -> list[str]:
        """The messages of the next ``a[...]`` frame."""
        while True:
            frame = await asyncio.wait_for(self.frames.get(), timeout)
            if frame.startswith("a"):
                return list(json.loads(frame[1:]))
            if frame.startswith("c"):
                raise AssertionError(f"closed: {frame}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def test_info_and_stomp_over_xhr_streaming() -> None:
    async def main() -> None:
        async with serving() as base, httpx.AsyncClient(timeout=10) as http:
            info = (await http.get(f"{base}/info")).json()
            assert info["websocket"] is True
            sockjs = XhrStreaming(http, base)
            await sockjs.open()
            assert await asyncio.wait_for(sockjs.frames.get(), 5) == "o"
            await sockjs.send(CONNECT)
            [connected] = await sockjs.messages()
            assert connected.startswith("CONNECTED\n")
            await sockjs.send(
                "SUBSCRIBE\nid:1\ndestination:/topic/x\nreceipt:r\n\n\0",
            )
            assert (await sockjs.messages())[0].startswith("RECEIPT")
            await sockjs.send("SEND\ndestination:/topic/x\n\nhello é\0")
            [message] = await sockjs.messages()
            assert message.startswith("MESSAGE\n") and message.endswith("hello é\0")
            await sockjs.close()

    run(main())


def test_a_sockjs_session_meets_tcp_clients_on_one_broker() -> None:
    async def main() -> None:
        ws_port = free_port()
        config = ServerConfig(port=0, ws_port=ws_port)
        async with start_server(config) as server, httpx.AsyncClient(timeout=10) as http:
            base = f"http://127.0.0.1:{ws_port}/ws"
            sockjs = XhrStreaming(http, base)
            await sockjs.open()
            await sockjs.send(CONNECT, "SUBSCRIBE\nid:1\ndestination:/queue/q\nreceipt:r\n\n\0")
            received = ""  # a message may hold several frames: one per write of the server
            while "RECEIPT" not in received:
                received += "".join(await sockjs.messages())
            async with stompbox.connect(f"stomp://127.0.0.1:{server.port}/") as tcp:
                await tcp.send("/queue/q", "from TCP", receipt=True)
            [message] = await sockjs.messages()
            assert message.endswith("from TCP\0")
            await sockjs.close()

    run(main())


def test_stomp_over_the_framed_sockjs_websocket() -> None:
    async def main() -> None:
        async with serving() as base:
            url = base.replace("http://", "ws://") + "/000/abc/websocket"
            async with ws_connect(url) as ws:
                assert await ws.recv() == "o"
                await ws.send(json.dumps([CONNECT]))
                frame = str(await asyncio.wait_for(ws.recv(), 5))
                assert json.loads(frame[1:])[0].startswith("CONNECTED")

    run(main())


def test_the_raw_websocket_keeps_its_place() -> None:
    async def main() -> None:
        async with serving() as base:
            url = base.replace("http://", "ws://")
            async with stompbox.connect(url) as client, client.subscribe("/topic/t") as sub:
                await client.send("/topic/t", "raw", receipt=True)
                assert (await sub.get(5)).text == "raw"

    run(main())


def test_a_page_of_another_origin_is_refused() -> None:
    async def main() -> None:
        async with serving() as base, httpx.AsyncClient(timeout=10) as http:
            evil = {"Origin": "http://evil.example"}
            response = await http.post(f"{base}/000/s1/xhr", headers=evil)
            assert response.status_code == 403
            # the same page from an allowed origin, and clients without an Origin, work
        async with (
            serving(allowed_origins=["http://app.example"]) as base,
            httpx.AsyncClient(timeout=10) as http,
        ):
            ok = await http.post(f"{base}/000/s2/xhr", headers={"Origin": "http://app.example"})
            assert (ok.status_code, ok.text) == (200, "o\n")
            assert (await http.post(f"{base}/000/s3/xhr")).text == "o\n"

    run(main())


def test_a_token_in_the_opening_request_authenticates_the_session() -> None:
    secret = "a secret of at least thirty-two bytes!"
    token = jwt.encode({"sub": "carol", "exp": int(time.time()) + 60}, secret, "HS256")

    async def main() -> None:
        security = SecurityConfig(jwt_secret=secret)
        async with serving(security=security) as base, httpx.AsyncClient(timeout=10) as http:
            sockjs = XhrStreaming(http, base)
            await sockjs.open(query=f"?access_token={token}")
            await sockjs.send(
                CONNECT,
                "SUBSCRIBE\nid:1\ndestination:/queue/me\n\n\0",
                "SEND\ndestination:/queue/me\n\nwho\0",
            )
            received = ""  # a message may hold several frames: one per write of the server
            while "MESSAGE" not in received:
                received += "".join(await sockjs.messages())
            assert "\nuser-id:carol\n" in received.partition("MESSAGE")[2]
            await sockjs.close()
            anonymous = XhrStreaming(http, base, "s2")
            await anonymous.open()
            await anonymous.send(CONNECT)
            [error] = await anonymous.messages()
            assert error.startswith("ERROR\nmessage:authentication failed")
            await anonymous.close()

    run(main())


def test_the_stomp_session_ends_when_the_browser_stops_polling() -> None:
    async def main() -> None:
        async with (
            serving(sockjs_disconnect_delay=0.3) as base,
            httpx.AsyncClient(timeout=10) as http,
        ):
            opened = await http.post(f"{base}/000/s1/xhr")
            assert opened.text == "o\n"
            await http.post(f"{base}/000/s1/xhr_send", content=json.dumps([CONNECT]))
            assert (await http.post(f"{base}/000/s1/xhr")).text.startswith('a["CONNECTED')
            await asyncio.sleep(1.0)  # no receiving request: the session times out
            gone = await http.post(f"{base}/000/s1/xhr_send", content='["x"]')
            assert gone.status_code == 404

    run(main())


def test_sockjs_can_be_turned_off() -> None:
    async def main() -> None:
        async with serving(sockjs=False) as base, httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{base}/info")).status_code == 404

    run(main())


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
def test_transports_without_an_origin_need_any_origin_allowed(transport: str) -> None:
    async def main() -> None:
        url = f"/000/s1/{transport}?c=cb"
        async with serving() as base, httpx.AsyncClient(timeout=2) as http:
            assert (await http.get(base + url)).status_code == 404
        async with serving(allowed_origins=["*"]) as base, httpx.AsyncClient(timeout=2) as http:
            if transport == "jsonp":
                assert (await http.get(base + url)).text.startswith('cb("o");')
            else:
                async with http.stream("GET", base + url) as response:
                    assert response.status_code == 200

    run(main())
