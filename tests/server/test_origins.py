"""Origin checks on real sockets: the ``serve`` listener and the ASGI endpoint under uvicorn
refuse handshakes from other sites' pages with 403, and let clients without an Origin in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

import stompbox
from stompbox.server import ConfigError, ServerConfig, StompASGI, start_server

from ..support import free_port, run
from .test_websocket import WsPeer

V12 = [Subprotocol("v12.stomp")]
EVIL = Origin("http://evil.example")


@contextlib.asynccontextmanager
async def listener(**config: Any) -> AsyncIterator[int]:
    """The ``serve`` WebSocket listener; yields its port."""
    async with start_server(ServerConfig(port=0, ws_port=free_port(), **config)) as server:
        yield server.ws_port


@contextlib.asynccontextmanager
async def under_uvicorn(**config: Any) -> AsyncIterator[int]:
    """:class:`StompASGI` served by uvicorn; yields its port."""
    stomp = StompASGI(config=ServerConfig(port=0, ws_port=0, **config))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            stomp, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


ENDPOINTS = {"listener": (listener, "/ws"), "asgi": (under_uvicorn, "/")}


async def connected(url: str, origin: str | None) -> str:
    """CONNECT through a WebSocket opened with this Origin header; the answer's command."""
    async with ws_connect(url, origin=Origin(origin) if origin else None, subprotocols=V12) as ws:
        return (await WsPeer(ws).connect()).command


async def refused(url: str, origin: str) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as info:
        async with ws_connect(url, origin=Origin(origin), subprotocols=V12):
            pass
    return info.value.response.status_code, bytes(info.value.response.body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_another_sites_page_gets_403_and_a_log_line(
    endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    serve, path = ENDPOINTS[endpoint]

    async def main() -> None:
        async with serve() as port:
            url = f"ws://127.0.0.1:{port}{path}"
            assert await refused(url, EVIL) == (403, b"origin not allowed\n")
            assert await connected(url, None) == "CONNECTED"  # still serving

    with caplog.at_level(logging.WARNING, logger="stompbox.server"):
        run(main())
    refusals = [r.getMessage() for r in caplog.records if "handshake refused" in r.getMessage()]
    assert len(refusals) == 1
    assert refusals[0].startswith("ws:127.0.0.1:")
    assert "origin 'http://evil.example' is not allowed" in refusals[0]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_clients_without_an_origin_are_not_affected(endpoint: str) -> None:
    """Scripts, stomp.py and stompbox's own client send no Origin."""
    serve, path = ENDPOINTS[endpoint]

    async def main() -> None:
        async with serve() as port:
            url = f"ws://127.0.0.1:{port}{path}"
            assert await connected(url, None) == "CONNECTED"
            async with stompbox.connect(url) as client:
                await client.send("/queue/x", "no origin", receipt=True)

    run(main())


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_same_origin_passes_by_default(endpoint: str) -> None:
    """Host is 127.0.0.1:port, so a page of http://127.0.0.1:port is the endpoint's own;
    localhost is the same machine but another origin."""
    serve, path = ENDPOINTS[endpoint]

    async def main() -> None:
        async with serve() as port:
            url = f"ws://127.0.0.1:{port}{path}"
            assert await connected(url, f"http://127.0.0.1:{port}") == "CONNECTED"
            assert (await refused(url, f"http://localhost:{port}"))[0] == 403
            assert (await refused(url, f"https://127.0.0.1:{port + 1}"))[0] == 403

    run(main())


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_configured_origins_pass(endpoint: str) -> None:
    serve, path = ENDPOINTS[endpoint]
    allowed = ["https://app.example.com", "http://*.dev.test:3000"]

    async def main() -> None:
        async with serve(allowed_origins=allowed) as port:
            url = f"ws://127.0.0.1:{port}{path}"
            for origin in ("https://app.example.com", "http://web.dev.test:3000"):
                assert await connected(url, origin) == "CONNECTED"
            for origin in ("http://app.example.com", "http://dev.test:3000", "null", EVIL):
                assert (await refused(url, origin))[0] == 403

    run(main())


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_star_allows_any_page(endpoint: str) -> None:
    serve, path = ENDPOINTS[endpoint]

    async def main() -> None:
        async with serve(allowed_origins=["*"]) as port:
            assert await connected(f"ws://127.0.0.1:{port}{path}", EVIL) == "CONNECTED"

    run(main())


def test_asgi_servers_without_denial_responses_close_with_1008() -> None:
    """Where the ASGI server cannot answer a handshake with HTTP, the refusal is a close
    with 1008 (policy violation) instead of the accept."""

    async def main() -> None:
        stomp = StompASGI(config=ServerConfig(port=0, ws_port=0))
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> MutableMapping[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "websocket",
            "path": "/",
            "headers": [(b"host", b"broker.test"), (b"origin", b"http://evil.example")],
            "client": ("127.0.0.1", 5000),
            "subprotocols": ["v12.stomp"],
        }
        await stomp(scope, receive, send)
        assert sent == [{"type": "websocket.close", "code": 1008, "reason": "origin not allowed"}]
        assert not stomp.connections

    run(main())


def test_a_bad_allowed_origin_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"allowed_origins: 'app\.example\.com' .* scheme"):
        ServerConfig.from_dict({"server": {"allowed_origins": ["app.example.com"]}})
    with pytest.raises(ConfigError, match="allowed_origins"):
        ServerConfig.from_dict({"server": {"allowed_origins": "https://app.example.com"}})
    config = ServerConfig.from_dict({"server": {"allowed_origins": ["https://*.example.com"]}})
    assert config.allowed_origins == ["https://*.example.com"]


def test_a_bad_allowed_origin_stops_the_asgi_endpoint_at_construction() -> None:
    with pytest.raises(ValueError, match=r"'example\.com'"):
        StompASGI(config=ServerConfig(allowed_origins=["example.com"]))
