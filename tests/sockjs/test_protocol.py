"""SockJS protocol 0.3.3 over HTTP and WebSocket, as its own test suite checks it:
in process (httpx's ASGITransport) where a response is whole, under uvicorn where it
streams or upgrades."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets import ConnectionClosed, InvalidStatus
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from stompbox.sockjs import SockJSEndpoint, SockJSSession
from stompbox.sockjs.framing import htmlfile_prelude
from stompbox.sockjs.testing import CloseHandler, EchoHandler

from ..app.helpers import under_uvicorn
from ..support import run

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
JS = "application/javascript; charset=UTF-8"
TEXT = "text/plain; charset=UTF-8"
BASE = "http://test/echo"
"""The in-process base URL; paths with empty segments are given whole, since httpx strips
the leading slashes of a relative one."""


def web(**endpoints: SockJSEndpoint) -> Starlette:
    return Starlette(routes=[Mount(f"/{name}", app=app) for name, app in endpoints.items()])


@contextlib.asynccontextmanager
async def in_process(endpoint: SockJSEndpoint) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=web(echo=endpoint))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def session_url() -> str:
    return f"/000/{uuid.uuid4()}"


def check(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    run(coro(), timeout=10)


# -- static pages ------------------------------------------------------------------------


def test_greeting_and_not_found() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            for url in ["", "/"]:
                r = await client.get(url)
                assert (r.status_code, r.text) == (200, "Welcome to SockJS!\n")
                assert r.headers["content-type"] == TEXT
                assert "set-cookie" not in r.headers
            for suffix in ["/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/"]:
                assert (await client.get(BASE + suffix)).status_code == 404, suffix

    check(body)


def test_info() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            r = await client.get("/info")
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json; charset=UTF-8"
            assert r.headers["cache-control"] == NO_CACHE
            assert r.headers["access-control-allow-origin"] == "*"
            assert "set-cookie" not in r.headers and "expires" not in r.headers
            info = r.json()
            assert info["websocket"] is True and info["cookie_needed"] is False
            assert info["origins"] == ["*:*"]
            again = (await client.get("/info")).json()
            assert isinstance(info["entropy"], int) and info["entropy"] != again["entropy"]
        async with in_process(SockJSEndpoint(EchoHandler(), websocket=False)) as client:
            assert (await client.get("/info")).json()["websocket"] is False

    check(body)


async def check_options(client: httpx.AsyncClient, url: str, methods: str) -> None:
    for origin in [None, "test", "null"]:
        r = await client.options(url, headers={"Origin": origin} if origin else {})
        assert r.status_code == 204 and r.content == b""
        assert r.headers["cache-control"] == "public, max-age=31536000"
        assert r.headers["expires"]
        assert int(r.headers["access-control-max-age"]) == 31536000
        assert r.headers["access-control-allow-methods"] == methods
        expected = origin if origin and origin != "null" else "*"
        assert r.headers["access-control-allow-origin"] == expected
        assert r.headers["access-control-allow-credentials"] == "true"


def test_cors_preflight() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            await check_options(client, "/info", "OPTIONS, GET")
            for transport in ["xhr", "xhr_send", "xhr_streaming"]:
                await check_options(client, f"/abc/abc/{transport}", "OPTIONS, POST")

    check(body)


def test_iframe_page_is_cached_and_revalidated() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler(), client_url="/sockjs.js")) as client:
            for suffix in ["/iframe.html", "/iframe-a.html", "/iframe-.html", "/iframe-0.1.2.html"]:
                r = await client.get(suffix + "?t=1")
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/html; charset=UTF-8"
                assert r.headers["cache-control"] == "public, max-age=31536000"
                assert r.headers["expires"] and r.headers["etag"]
                assert "last-modified" not in r.headers and "set-cookie" not in r.headers
                assert '<script src="/sockjs.js"></script>' in r.text
                assert "SockJS.bootstrap_iframe();" in r.text
            etag = r.headers["etag"]
            r = await client.get("/iframe.html", headers={"If-None-Match": etag})
            assert (r.status_code, r.content) == (304, b"")
            assert "content-type" not in r.headers
            for bad in ["/iframe.htm", "/iframe", "/IFRAME.HTML", "/iframe.xml", "/iframe-/.html"]:
                assert (await client.get(bad)).status_code == 404

    check(body)


# -- polling transports, in process --------------------------------------------------------


def test_xhr_round_trip_and_session_reuse() -> None:
    async def body() -> None:
        handler = EchoHandler()
        endpoint = SockJSEndpoint(handler)
        async with in_process(endpoint) as client:
            url = session_url()
            r = await client.post(url + "/xhr")
            assert (r.status_code, r.text) == (200, "o\n")
            assert r.headers["content-type"] == JS
            assert r.headers["cache-control"] == NO_CACHE
            assert r.headers["access-control-allow-origin"] == "*"
            assert "set-cookie" not in r.headers
            r = await client.post(url + "/xhr_send", content='["x","\\u2028y"]')
            assert (r.status_code, r.content) == (204, b"")
            assert r.headers["content-type"] == TEXT
            assert r.headers["cache-control"] == NO_CACHE
            r = await client.post(url.replace("/000/", "/999/") + "/xhr")  # server id ignored
            assert r.text == 'a["x","\\u2028y"]\n'
            assert len(handler.opened_sessions) == 1
            assert list(endpoint.sessions) == [url.split("/")[2]]
            assert handler.opened_sessions[0].scope["path"].endswith("/xhr")

    check(body)


def test_xhr_send_errors() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            url = session_url()
            assert (await client.post(url + "/xhr_send", content='["x"]')).status_code == 404
            await client.post(url + "/xhr")
            r = await client.post(url + "/xhr_send", content='["x')
            assert (r.status_code, r.text) == (500, "Broken JSON encoding.")
            r = await client.post(url + "/xhr_send", content="")
            assert (r.status_code, r.text) == (500, "Payload expected.")
            types = ["text/plain", "T", "application/json", "application/xml", ""]
            for content_type in types:
                headers = {"Content-Type": content_type}
                r = await client.post(url + "/xhr_send", content='["a"]', headers=headers)
                assert r.status_code == 204
            assert (await client.post(url + "/xhr")).text == "a[" + ",".join(['"a"'] * 5) + "]\n"

    check(body)


def test_invalid_session_paths() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            for suffix in ["//", "/a./a", "/a/a.", "/./.", "/", "///"]:
                assert (await client.get(BASE + suffix + "/xhr")).status_code == 404
                assert (await client.post(BASE + suffix + "/xhr")).status_code == 404
            for part in ["/a/a", "/_/_", "/1/1", "/abcdefgh_i-j%20/abcdefg_i-j%20"]:
                assert (await client.post(part + "/xhr")).text == "o\n"
            assert (await client.post("/a/a/nope")).status_code == 404
            r = await client.get("/a/b/xhr")
            assert (r.status_code, r.headers["allow"]) == (405, "POST")

    check(body)


def test_cors_request_headers_are_echoed() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            headers = {"Access-Control-Request-Headers": "a, b, c", "Origin": "http://x"}
            r = await client.post(session_url() + "/xhr", headers=headers)
            assert r.headers["access-control-allow-headers"] == "a, b, c"
            assert r.headers["access-control-allow-origin"] == "http://x"
            assert r.headers["access-control-allow-credentials"] == "true"
            r = await client.post(session_url() + "/xhr")
            assert "access-control-allow-headers" not in r.headers

    check(body)


def test_server_close_is_served_until_forgotten() -> None:
    async def body() -> None:
        handler = CloseHandler()
        async with in_process(SockJSEndpoint(handler)) as client:
            url = session_url()
            assert (await client.post(url + "/xhr")).text == "o\n"
            for _ in range(2):
                assert (await client.post(url + "/xhr")).text == 'c[3000,"Go away!"]\n'
            assert handler.closed_sessions == handler.opened_sessions
            assert (await client.post(url + "/xhr_send", content='["x"]')).status_code == 404

    check(body)


def test_second_receiver_gets_2010() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            url = session_url()
            await client.post(url + "/xhr")
            first = asyncio.create_task(client.post(url + "/xhr"))
            await asyncio.sleep(0.05)
            r = await client.post(url + "/xhr")
            assert (r.status_code, r.text) == (200, 'c[2010,"Another connection still open"]\n')
            await client.post(url + "/xhr_send", content='["still here"]')
            assert (await first).text == 'a["still here"]\n'

    check(body)


def test_heartbeat_answers_an_idle_poll() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler(), heartbeat=0.05)) as client:
            url = session_url()
            await client.post(url + "/xhr")
            assert (await client.post(url + "/xhr")).text == "h\n"

    check(body)


def test_disconnect_delay_closes_and_forgets() -> None:
    async def body() -> None:
        handler = EchoHandler()
        endpoint = SockJSEndpoint(handler, disconnect_delay=0.1)
        async with in_process(endpoint) as client:
            url = session_url()
            await client.post(url + "/xhr")
            assert endpoint.sessions
            await asyncio.sleep(0.3)
            assert handler.closed_sessions == handler.opened_sessions
            assert endpoint.sessions == {}
            assert (await client.post(url + "/xhr_send", content='["x"]')).status_code == 404
            assert (await client.post(url + "/xhr")).text == "o\n"  # a new session

    check(body)


def test_jsonp_and_jsonp_send() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            url = session_url()
            r = await client.get(url + "/jsonp?c=%63allback")
            assert (r.text, r.headers["content-type"]) == ('callback("o");\r\n', JS)
            assert r.headers["cache-control"] == NO_CACHE
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            r = await client.post(url + "/jsonp_send", content="d=%5B%22abc%22%5D", headers=form)
            assert (r.status_code, r.text, r.headers["content-type"]) == (200, "ok", TEXT)
            r = await client.post(url + "/jsonp_send", content='["%61bc"]')
            assert r.text == "ok"
            r = await client.get(url + "/jsonp?c=x")
            assert r.text == 'x("a[\\"abc\\",\\"%61bc\\"]");\r\n'
            for data in ["", "d=", "p=p"]:
                r = await client.post(url + "/jsonp_send", content=data, headers=form)
                assert (r.status_code, r.text) == (500, "Payload expected.")
            r = await client.post(url + "/jsonp_send", content="d=%5B%22x", headers=form)
            assert (r.status_code, r.text) == (500, "Broken JSON encoding.")
            for transport in ["jsonp", "htmlfile"]:
                r = await client.get(f"/a/a/{transport}")
                assert (r.status_code, r.text) == (500, '"callback" parameter required')
                for bad in ["%20", "*", "abc(", "abc%28"]:
                    r = await client.get(f"/a/a/{transport}?c={bad}")
                    assert (r.status_code, r.text) == (500, 'invalid "callback" parameter')

    check(body)


def test_jsessionid_cookie() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler(), cookie_needed=True)) as client:
            r = await client.get("/info")
            assert r.json()["cookie_needed"] is True and "set-cookie" not in r.headers
            r = await client.post(session_url() + "/xhr")
            assert r.headers["set-cookie"] == "JSESSIONID=dummy; path=/"
            client.cookies.clear()
            url = session_url()
            r = await client.get(url + "/jsonp?c=cb", headers={"Cookie": "JSESSIONID=abcdef"})
            assert r.headers["set-cookie"] == "JSESSIONID=abcdef; path=/"
            r = await client.post(url + "/jsonp_send", content='["x"]')
            assert r.headers["set-cookie"].startswith("JSESSIONID=")

    check(body)


def test_websocket_urls_over_plain_http() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            r = await client.get("/0/0/websocket")
            assert (r.status_code, r.text) == (400, 'Can "Upgrade" only to "WebSocket".')
            headers = {"Upgrade": "WebSocket", "Connection": "close"}
            r = await client.get("/0/0/websocket", headers=headers)
            assert (r.status_code, r.text) == (400, '"Connection" must be "Upgrade".')
            for headers in [{"Upgrade": "WebSocket", "Connection": "Upgrade"}, {}]:
                r = await client.post("/0/0/websocket", headers=headers)
                assert (r.status_code, r.content, r.headers["allow"]) == (405, b"", "GET")
                assert "content-type" not in r.headers
        async with in_process(SockJSEndpoint(EchoHandler(), websocket=False)) as client:
            assert (await client.get("/0/0/websocket")).status_code == 404
            assert (await client.get("/websocket")).status_code == 404

    check(body)


def test_limits() -> None:
    async def body() -> None:
        endpoint = SockJSEndpoint(EchoHandler(), max_message_bytes=10, max_sessions=1)
        async with in_process(endpoint) as client:
            url = session_url()
            await client.post(url + "/xhr")
            r = await client.post(url + "/xhr_send", content='["' + "x" * 20 + '"]')
            assert r.status_code == 413
            assert (await client.post(session_url() + "/xhr")).status_code == 503
        handler = EchoHandler()
        async with in_process(SockJSEndpoint(handler, max_queued=5)) as client:
            url = session_url()
            await client.post(url + "/xhr")
            await client.post(url + "/xhr_send", content='["abc","def"]')
            assert handler.closed_sessions == handler.opened_sessions
            r = await client.post(url + "/xhr")
            assert r.text == 'c[4500,"Send buffer overflow"]\n'

    check(body)


def test_origin_policy() -> None:
    def only_good(scope: Any) -> bool:
        return (b"origin", b"http://good") in scope["headers"]

    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler(), allow_origin=only_good)) as client:
            good, evil = {"Origin": "http://good"}, {"Origin": "http://evil"}
            assert (await client.get("/info", headers=evil)).status_code == 403
            assert (await client.get("/info", headers=good)).status_code == 200
            assert (await client.post(session_url() + "/xhr", headers=evil)).status_code == 403
            r = await client.post(session_url() + "/xhr", headers=good)
            assert r.text == "o\n"
            assert r.headers["access-control-allow-origin"] == "http://good"
            # the iframe transports cannot be checked: off
            assert (await client.get("/iframe.html", headers=good)).status_code == 404
            assert (await client.get("/a/a/jsonp?c=x", headers=good)).status_code == 404
            assert (await client.get("/a/a/htmlfile?c=x", headers=good)).status_code == 404

    check(body)


def test_unmounted_with_a_prefix() -> None:
    async def body() -> None:
        endpoint = SockJSEndpoint(EchoHandler(), prefix="/stomp/")
        transport = httpx.ASGITransport(app=endpoint)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/stomp")).text == "Welcome to SockJS!\n"
            assert (await client.post("/stomp/1/stomp/xhr")).text == "o\n"

    check(body)


class PausingHandler(EchoHandler):
    def opened(self, session: SockJSSession) -> None:
        super().opened(session)
        session.pause_reading()


def test_paused_reading_holds_xhr_send() -> None:
    async def body() -> None:
        handler = PausingHandler()
        async with in_process(SockJSEndpoint(handler)) as client:
            url = session_url()
            await client.post(url + "/xhr")
            sending = asyncio.create_task(client.post(url + "/xhr_send", content='["x"]'))
            await asyncio.sleep(0.05)
            assert not sending.done()
            handler.opened_sessions[0].resume_reading()
            assert (await sending).status_code == 204
            assert (await client.post(url + "/xhr")).text == 'a["x"]\n'

    check(body)


# -- streaming transports and WebSockets, under uvicorn ------------------------------------


class Stream:
    """A streaming response, read exactly."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.aiter_text()
        self._buffer = ""

    async def expect(self, text: str) -> None:
        while len(self._buffer) < len(text):
            self._buffer += await anext(self._chunks)
        got, self._buffer = self._buffer[: len(text)], self._buffer[len(text) :]
        assert got == text

    async def ends(self) -> None:
        async for chunk in self._chunks:
            self._buffer += chunk
        assert self._buffer == ""


@contextlib.asynccontextmanager
async def served(**options: Any) -> AsyncIterator[tuple[str, EchoHandler]]:
    """An echo endpoint at /echo and a closing one at /close, under uvicorn."""
    handler = EchoHandler()
    app = web(
        echo=SockJSEndpoint(handler, **options), close=SockJSEndpoint(CloseHandler(), **options)
    )
    async with under_uvicorn(app) as port:
        yield f"127.0.0.1:{port}", handler


@contextlib.asynccontextmanager
async def stream(client: httpx.AsyncClient, method: str, url: str) -> AsyncIterator[Stream]:
    async with client.stream(method, url) as response:
        assert response.status_code == 200
        yield Stream(response)


def test_xhr_streaming_and_its_response_limit() -> None:
    async def body() -> None:
        async with served(response_limit=4096) as (host, _), httpx.AsyncClient() as client:
            url = f"http://{host}/echo{session_url()}"
            async with stream(client, "POST", url + "/xhr_streaming") as r:
                assert r.response.headers["content-type"] == JS
                assert r.response.headers["cache-control"] == NO_CACHE
                await r.expect("h" * 2048 + "\n")
                await r.expect("o\n")
                message = '"' + "x" * 128 + '"'
                for _ in range(31):
                    sent = await client.post(url + "/xhr_send", content=f"[{message}]")
                    assert sent.status_code == 204
                    await r.expect(f"a[{message}]\n")
                await r.ends()

    check(body)


def test_eventsource_and_htmlfile() -> None:
    async def body() -> None:
        async with served(response_limit=4096) as (host, _), httpx.AsyncClient() as client:
            url = f"http://{host}/echo{session_url()}"
            async with stream(client, "GET", url + "/eventsource") as r:
                assert r.response.headers["content-type"] == "text/event-stream; charset=UTF-8"
                assert r.response.headers["cache-control"] == NO_CACHE
                await r.expect("\r\n")
                await r.expect("data: o\r\n\r\n")
                await client.post(url + "/xhr_send", content=r'["  \u0000\n\r "]')
                await r.expect('data: a["  \\u0000\\n\\r "]\r\n\r\n')
                big = "x" * 4096
                await client.post(url + "/xhr_send", content=f'["{big}"]')
                await r.expect(f'data: a["{big}"]\r\n\r\n')
                await r.ends()
            url = f"http://{host}/echo{session_url()}"
            async with stream(client, "GET", url + "/htmlfile?c=%63allback") as r:
                assert r.response.headers["content-type"] == "text/html; charset=UTF-8"
                prelude = htmlfile_prelude("callback")
                assert len(prelude) > 1024 and "var c = parent.callback;" in prelude
                await r.expect(prelude)
                await r.expect('<script>\np("o");\n</script>\r\n')
                await client.post(url + "/xhr_send", content='["x"]')
                await r.expect('<script>\np("a[\\"x\\"]");\n</script>\r\n')

    check(body)


def test_streams_end_with_the_close_frame_and_a_second_gets_2010() -> None:
    async def body() -> None:
        async with served() as (host, _), httpx.AsyncClient() as client:
            url = f"http://{host}/close{session_url()}/xhr_streaming"
            for first in [True, False]:
                async with stream(client, "POST", url) as r:
                    await r.expect("h" * 2048 + "\n")
                    if first:
                        await r.expect("o\n")
                    await r.expect('c[3000,"Go away!"]\n')
                    await r.ends()
            url = f"http://{host}/echo{session_url()}/xhr_streaming"
            async with stream(client, "POST", url) as r1:
                await r1.expect("h" * 2048 + "\no\n")
                async with stream(client, "POST", url) as r2:
                    await r2.expect("h" * 2048 + "\n")
                    await r2.expect('c[2010,"Another connection still open"]\n')
                    await r2.ends()

    check(body)


def test_aborted_receiver_closes_the_session_with_1002() -> None:
    async def body() -> None:
        async with served() as (host, handler), httpx.AsyncClient() as client:
            url = f"http://{host}/echo{session_url()}/xhr_streaming"
            async with stream(client, "POST", url) as r:
                await r.expect("h" * 2048 + "\no\n")
            for _ in range(100):
                if handler.closed_sessions:
                    break
                await asyncio.sleep(0.02)
            assert handler.closed_sessions == handler.opened_sessions
            async with stream(client, "POST", url) as r:
                await r.expect("h" * 2048 + "\n")
                await r.expect('c[1002,"Connection interrupted"]\n')

    check(body)


def test_framed_websocket() -> None:
    async def body() -> None:
        async with served(heartbeat=0.1) as (host, handler):
            url = f"ws://{host}/echo{session_url()}/websocket"
            async with connect(url) as ws:
                assert await ws.recv() == "o"
                await ws.send("")  # ignored
                await ws.send('["a","b"]')
                assert await ws.recv() == 'a["a","b"]'
                await ws.send('"single"')
                assert await ws.recv() == 'a["single"]'
                assert await ws.recv() == "h"
            async with connect(url) as ws:  # a WebSocket may reuse a session id
                assert await ws.recv() == "o"
                await ws.send('["a')
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1002
            async with connect(f"ws://{host}/close{session_url()}/websocket") as ws:
                assert await ws.recv() == "o"
                assert await ws.recv() == 'c[3000,"Go away!"]'
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 3000
            await asyncio.sleep(0.05)
            assert len(handler.closed_sessions) == 2

    check(body)


def test_raw_websocket() -> None:
    async def body() -> None:
        async with served(websocket_subprotocols=["v12.stomp"]) as (host, _):
            async with connect(
                f"ws://{host}/echo/websocket", subprotocols=[Subprotocol("v12.stomp")]
            ) as ws:
                assert ws.subprotocol == "v12.stomp"
                await ws.send("Hello world!\uffff")
                assert await ws.recv() == "Hello world!\uffff"
            async with connect(f"ws://{host}/close/websocket") as ws:
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert (ws.close_code, ws.close_reason) == (3000, "Go away!")

    check(body)


def test_json_encoding_round_trip() -> None:
    async def body() -> None:
        async with in_process(SockJSEndpoint(EchoHandler())) as client:
            url = session_url()
            await client.post(url + "/xhr")
            text = "".join(chr(i) for i in range(0xD800)) + "\ue000\uffff"
            await client.post(url + "/xhr_send", content=json.dumps([text]))
            r = await client.post(url + "/xhr")
            assert json.loads(r.text[1:]) == [text]

    check(body)


def test_websocket_limits() -> None:
    async def body() -> None:
        async with (
            served(max_message_bytes=16, max_sessions=1) as (host, _),
            connect(f"ws://{host}/echo{session_url()}/websocket") as ws,
        ):
            assert await ws.recv() == "o"
            with pytest.raises(InvalidStatus):  # one session at a time
                await connect(f"ws://{host}/echo/websocket")
            await ws.send('["' + "x" * 20 + '"]')
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1009

    check(body)


def test_aborted_poll_closes_the_session() -> None:
    async def body() -> None:
        async with served() as (host, handler), httpx.AsyncClient() as client:
            url = f"http://{host}/echo{session_url()}/xhr"
            assert (await client.post(url)).text == "o\n"
            polling = asyncio.create_task(client.post(url))
            await asyncio.sleep(0.1)
            polling.cancel()
            for _ in range(100):
                if handler.closed_sessions:
                    break
                await asyncio.sleep(0.02)
            assert (await client.post(url)).text == 'c[1002,"Connection interrupted"]\n'

    check(body)
