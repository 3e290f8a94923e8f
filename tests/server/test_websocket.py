"""STOMP over WebSocket: the serve listener and the ASGI app, with real WebSocket clients,
and raw sockets for what a client library hides (early frames, peers that vanish or do
not answer a close)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import BINARY, CLOSE, TEXT
from websockets.frames import Frame as WsFrame
from websockets.typing import Subprotocol

import stompbox
from stompbox.app import Credentials, StompApp
from stompbox.protocol import Frame, FrameParser
from stompbox.protocol.parser import Limits
from stompbox.server import ServerConfig, StompASGI, start_server
from stompbox.server.handshake import HandshakeScope

from ..support import free_port, run

V12 = [Subprotocol("v12.stomp")]


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


# -- the listener, through a WebSocket client library ---------------------------------------


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


def test_wrong_path_is_404_with_a_reason() -> None:
    async def main() -> None:
        async with ws_server() as url:
            with pytest.raises(InvalidStatus) as info:
                async with ws_connect(url.replace("/ws", "/stomp?x=1")):
                    pass
            response = info.value.response
            assert response.status_code == 404
            assert response.body == b"no STOMP endpoint at /stomp?x=1\n"
            async with ws_connect(url + "?vhost=/", subprotocols=V12) as ws:  # a query is fine
                assert (await WsPeer(ws).connect()).command == "CONNECTED"

    run(main())


def test_a_full_server_answers_503_before_the_upgrade(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with ws_server(max_connections=1) as url, ws_connect(url, subprotocols=V12) as ws:
            with pytest.raises(InvalidStatus) as info:
                async with ws_connect(url, subprotocols=V12):
                    pass
            assert info.value.response.status_code == 503
            assert info.value.response.body == b"max_connections limit of 1 exceeded\n"
            assert (await WsPeer(ws).connect()).command == "CONNECTED"  # the first is served

    with caplog.at_level(logging.WARNING, logger="stompbox.server"):
        run(main())
    assert "refused, max_connections reached" in caplog.text


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["v10.stomp", "v11.stomp", "v12.stomp"], "v12.stomp"),
        (["v11.stomp", "v10.stomp"], "v11.stomp"),
        (["v10.stomp"], "v10.stomp"),
        (["mqtt", "v10.stomp"], "v10.stomp"),
        (["mqtt"], None),
        ([], None),
    ],
)
def test_subprotocol_is_the_highest_stomp_version_offered(
    offered: list[str], chosen: str | None
) -> None:
    async def main() -> None:
        protocols = [Subprotocol(p) for p in offered] or None
        async with ws_server() as url, ws_connect(url, subprotocols=protocols) as ws:
            assert ws.subprotocol == chosen
            assert (await WsPeer(ws).connect()).command == "CONNECTED"

    run(main())


def test_text_unless_the_output_is_not_utf8() -> None:
    async def main() -> None:
        async with ws_server() as url, ws_connect(url, subprotocols=V12) as ws:
            peer = WsPeer(ws)
            await peer.connect()
            await ws.send("SUBSCRIBE\nid:1\ndestination:/queue/kinds\nreceipt:r\n\n\0")
            assert (await peer.frame()).command == "RECEIPT"
            bodies = [b"ascii", "héllo wörld ✓".encode(), b"\xff\xfe not utf-8"]
            for body in bodies:
                await ws.send(
                    b"SEND\ndestination:/queue/kinds\ncontent-length:%d\n\n%s\0" % (len(body), body)
                )
                assert (await peer.frame()).body == body
            assert peer.kinds == ["text", "text", "text", "text", "binary"]

    run(main())


def test_bodies_of_every_frame_length_form_arrive() -> None:
    """7-bit, 16-bit and 64-bit payload lengths (RFC 6455, 5.2), checked by the client."""

    async def main() -> None:
        async with ws_server() as url, ws_connect(url, subprotocols=V12, max_size=None) as ws:
            peer = WsPeer(ws)
            await peer.connect()
            await ws.send("SUBSCRIBE\nid:1\ndestination:/queue/sizes\nreceipt:r\n\n\0")
            assert (await peer.frame()).command == "RECEIPT"
            for size in (10, 1000, 100_000):
                body = bytes(range(256)) * (size // 256) + b"\xff" * (size % 256)
                await ws.send(
                    b"SEND\ndestination:/queue/sizes\ncontent-length:%d\n\n%s\0" % (size, body)
                )
                assert (await peer.frame()).body == body

    run(main())


def test_the_output_of_a_loop_turn_is_one_message() -> None:
    async def main() -> None:
        async with ws_server() as url, ws_connect(url, subprotocols=V12) as ws:
            peer = WsPeer(ws)
            await peer.connect()
            await ws.send("SUBSCRIBE\nid:1\ndestination:/queue/batch\nreceipt:r\n\n\0")
            assert (await peer.frame()).command == "RECEIPT"
            await ws.send("".join(f"SEND\ndestination:/queue/batch\n\n{i}\0" for i in range(3)))
            message = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(message, str)
            assert message.count("MESSAGE\n") == 3
            assert message.endswith("\n\n2\0")

    run(main())


def test_a_frame_may_span_fragments_and_messages() -> None:
    async def main() -> None:
        async with ws_server() as url, ws_connect(url, subprotocols=V12) as ws:
            peer = WsPeer(ws)
            await peer.connect()
            await ws.send("SUBSCRIBE\nid:1\ndestination:/queue/parts\nreceipt:r\n\n\0")
            assert (await peer.frame()).command == "RECEIPT"
            await ws.send(["SEND\ndestination:", "/queue/parts\n\nhel"])  # fragmented
            await ws.send(b"lo\0")  # and the rest in a message of its own
            assert (await peer.frame()).body == b"hello"

    run(main())


def test_pings_are_answered() -> None:
    async def main() -> None:
        async with ws_server() as url, ws_connect(url, subprotocols=V12) as ws:
            await WsPeer(ws).connect()
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)

    run(main())


def test_client_close_handshake_ends_the_session() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=free_port())
        async with start_server(config) as server:
            url = f"ws://127.0.0.1:{server.ws_port}/ws"
            async with ws_connect(url, subprotocols=V12) as ws:
                await WsPeer(ws).connect()
                assert len(server.connections) == 1
                await ws.close(1000, "bye")
            assert ws.close_code == 1000  # echoed
            await wait_until(lambda: not server.connections)

    run(main())


def test_server_closes_with_1000_after_its_output() -> None:
    async def main() -> None:
        async with ws_server() as url, ws_connect(url, subprotocols=V12) as ws:
            peer = WsPeer(ws)
            await peer.connect()
            await ws.send("DISCONNECT\nreceipt:bye\n\n\0")
            assert (await peer.frame()).get("receipt-id") == "bye"
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 1000

    run(main())


def test_stopping_the_server_tells_websocket_clients_and_closes() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=free_port())
        async with start_server(config) as server:
            ws = await ws_connect(f"ws://127.0.0.1:{server.ws_port}/ws", subprotocols=V12)
            peer = WsPeer(ws)
            await peer.connect()
        assert (await peer.frame()).get("message") == "server shutting down"
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1000

    run(main())


def test_messages_over_the_size_limit_close_with_1009() -> None:
    async def main() -> None:
        limits = Limits(max_frame_size=2000, max_body_size=1000)
        async with ws_server(limits=limits) as url, ws_connect(url, subprotocols=V12) as ws:
            await WsPeer(ws).connect()
            await ws.send(b"x" * (2000 + 1024 + 1))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1009

    run(main())


def test_the_handshake_reaches_the_authenticator_as_an_asgi_scope() -> None:
    seen: list[dict[str, Any]] = []

    def authenticate(credentials: Credentials) -> str | None:
        assert credentials.handshake is not None
        seen.append(dict(credentials.handshake))
        headers = dict(credentials.handshake["headers"])
        return "carol" if headers.get(b"cookie") == b"session=s-1" else None

    app = StompApp(authenticate=authenticate, require_auth=True)

    async def main() -> None:
        ws_port = free_port()
        async with app.serve_tcp(port=0, ws_port=ws_port):
            url = f"ws://127.0.0.1:{ws_port}/ws?token=t%201&vhost=/"
            cookie = {"Cookie": "session=s-1", "X-Tab": "  two words "}
            async with ws_connect(url, subprotocols=V12, additional_headers=cookie) as ws:
                assert (await WsPeer(ws).connect()).command == "CONNECTED"
            async with ws_connect(url, subprotocols=V12) as ws:
                assert (await WsPeer(ws).connect()).command == "ERROR"

    run(main())
    scope = seen[0]
    assert scope["type"] == "websocket"
    assert scope["path"] == "/ws"
    assert scope["raw_path"] == b"/ws"
    assert scope["query_string"] == b"token=t%201&vhost=/"
    assert (b"cookie", b"session=s-1") in scope["headers"]
    assert (b"x-tab", b"two words") in scope["headers"]
    assert (b"upgrade", b"websocket") in scope["headers"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["subprotocols"] == ["v12.stomp"]


def test_handshake_scope_from_the_request_head() -> None:
    head = (
        b"GET /w%C3%A9/ws?a=1&b HTTP/1.1\r\nHost: example.com\r\n"
        b"Sec-WebSocket-Protocol: v11.stomp, v12.stomp\r\nsec-websocket-protocol:v10.stomp\r\n"
        b"Cookie: a=\xe9\r\n\r\n"
    )
    scope = HandshakeScope(head, ("10.0.0.1", 4242))
    assert dict(scope) == {
        "type": "websocket",
        "scheme": "ws",
        "http_version": "1.1",
        "path": "/wé/ws",
        "raw_path": b"/w%C3%A9/ws",
        "query_string": b"a=1&b",
        "headers": [
            (b"host", b"example.com"),
            (b"sec-websocket-protocol", b"v11.stomp, v12.stomp"),
            (b"sec-websocket-protocol", b"v10.stomp"),
            (b"cookie", b"a=\xe9"),
        ],
        "client": ("10.0.0.1", 4242),
        "subprotocols": ["v11.stomp", "v12.stomp", "v10.stomp"],
    }
    assert len(scope) == 9
    assert scope.get("state") is None
    assert "headers" in scope
    with pytest.raises(KeyError):
        scope["server"]


# -- the listener, on the wire --------------------------------------------------------------


class RawPeer:
    """A WebSocket client written by hand, for what client libraries never do."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawPeer:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    @staticmethod
    def request(path: str = "/ws") -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v12.stomp\r\n\r\n"
        ).encode()

    @staticmethod
    def frame(data: bytes, opcode: Any = TEXT) -> bytes:
        return WsFrame(opcode, data).serialize(mask=True)

    async def response(self) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)

    async def next_frame(self) -> tuple[int, bytes]:
        """The server's next WebSocket frame: (opcode, payload)."""
        head = await asyncio.wait_for(self.reader.readexactly(2), 5)
        assert head[0] & 0x80 and not head[1] & 0x80  # FIN, and not masked
        length = head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return head[0] & 0x0F, await self.reader.readexactly(length)

    async def ended(self, timeout: float = 5) -> bool:
        """True once the server has closed the connection (cleanly or not), whatever it
        sent before."""
        with contextlib.suppress(ConnectionResetError):
            await asyncio.wait_for(self.reader.read(), timeout)
        return True

    def vanish(self) -> None:
        """Go away without a word: a TCP reset."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


CONNECT = b"CONNECT\naccept-version:1.2\nhost:/\n\n\0"


async def wait_until(condition: Any, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_frames_sent_with_the_request_are_not_lost() -> None:
    async def main() -> None:
        async with start_server(ServerConfig(port=0, ws_port=free_port())) as server:
            peer = await RawPeer.open(server.ws_port)
            peer.writer.write(peer.request() + peer.frame(CONNECT[:10]))
            peer.writer.write(peer.frame(CONNECT[10:]))
            response = await peer.response()
            assert response.startswith(b"HTTP/1.1 101 ")
            assert b"\r\nSec-WebSocket-Protocol: v12.stomp\r\n" in response
            opcode, payload = await peer.next_frame()
            assert (opcode, payload[:10]) == (TEXT, b"CONNECTED\n")
            await peer.close()

    run(main())


def test_a_request_in_pieces_is_answered_once_whole() -> None:
    async def main() -> None:
        async with start_server(ServerConfig(port=0, ws_port=free_port())) as server:
            peer = await RawPeer.open(server.ws_port)
            request = peer.request()
            for i in range(len(request)):  # a byte at a time: CR LF CR LF split each way
                peer.writer.write(request[i : i + 1])
                await peer.writer.drain()
                await asyncio.sleep(0.0005)
            assert (await peer.response()).startswith(b"HTTP/1.1 101 ")
            peer.writer.write(peer.frame(CONNECT))
            assert (await peer.next_frame())[1].startswith(b"CONNECTED\n")
            await peer.close()

    run(main())


def test_plain_http_is_told_to_upgrade() -> None:
    async def main() -> None:
        async with start_server(ServerConfig(port=0, ws_port=free_port())) as server:
            peer = await RawPeer.open(server.ws_port)
            peer.writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await peer.response()).startswith(b"HTTP/1.1 426 ")
            assert await peer.ended()
            peer.writer.write(b"garbage\r\n\r\n")  # after the answer: ignored
            await peer.close()
            peer = await RawPeer.open(server.ws_port)
            peer.writer.write(b"\x16\x03\x01 not http\r\n\r\n")
            assert await peer.ended()
            await peer.close()
            assert not server.connections

    run(main())


def test_no_upgrade_within_the_connect_timeout_is_closed() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=free_port(), connect_timeout=0.2)
        async with start_server(config) as server:
            silent = await RawPeer.open(server.ws_port)
            slow = await RawPeer.open(server.ws_port)
            slow.writer.write(slow.request()[:20])
            assert await silent.ended(2)
            assert await slow.ended(2)
            await silent.close()
            await slow.close()

    run(main())


def test_peers_that_vanish_leave_nothing_behind() -> None:
    async def main() -> None:
        async with start_server(ServerConfig(port=0, ws_port=free_port())) as server:
            peers = []
            for _ in range(3):
                peer = await RawPeer.open(server.ws_port)
                peer.writer.write(peer.request())
                await peer.response()
                peer.writer.write(peer.frame(CONNECT))
                await peer.next_frame()
                peer.writer.write(
                    peer.frame(b"SUBSCRIBE\nid:1\ndestination:/queue/gone\nreceipt:r\n\n\0")
                )
                await peer.next_frame()
                peers.append(peer)
            half = await RawPeer.open(server.ws_port)
            half.writer.write(half.request()[:30])
            await wait_until(lambda: len(server.connections) == 3)
            peers[0].vanish()  # a reset
            peers[1].writer.write_eof()  # half-closed, without a close frame
            peers[2].writer.write(peers[2].frame(b"SEND\ndestination:/q"))  # mid-frame
            peers[2].vanish()
            half.vanish()
            await wait_until(lambda: not server.connections)
            assert await peers[1].ended()
            await peers[1].close()
            async with stompbox.connect(f"ws://127.0.0.1:{server.ws_port}/ws") as client:
                await client.send("/queue/gone", b"still served", receipt=True)

    run(main())


def test_a_client_that_does_not_answer_the_close_is_dropped() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=free_port(), shutdown_grace=0.3)
        async with start_server(config) as server:
            peer = await RawPeer.open(server.ws_port)
            peer.writer.write(peer.request() + peer.frame(CONNECT))
            await peer.response()
            await peer.next_frame()
            peer.writer.write(peer.frame(b"DISCONNECT\nreceipt:r\n\n\0", BINARY))
            assert (await peer.next_frame())[1].startswith(b"RECEIPT\n")
            assert await peer.next_frame() == (CLOSE, struct.pack("!H", 1000))
            assert await peer.ended(3)  # no answer from us: the server gives up
            await wait_until(lambda: not server.connections)
            await peer.close()

    run(main())


# -- ASGI ---------------------------------------------------------------------------------


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
