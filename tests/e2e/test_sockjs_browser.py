"""STOMP over SockJS in headless Chromium, through sockjs-client 1.6.1 and @stomp/stompjs.

Each of sockjs-client's transports, forced one at a time, against ``StompApp.sockjs_asgi``
mounted in Starlette; the chat example with the browser's WebSocket taken away; and
``stompbox serve``'s SockJS endpoint from a page of another origin. Needs Debian's
``chromium`` (``scripts/browser.sh``) and the npm packages (``npm ci``); skips with a hint
elsewhere, fails under CI.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Mount, Route

from stompbox.app import StompApp
from stompbox.server import ServerConfig
from stompbox.sockjs import SockJSEndpoint

from ..server.helpers import stomp_client
from ..support import free_port, stompbox, wait_for_port
from .test_chat_browser import CHROMIUM, FLAGS, ROOT, serve_example

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response

PAGE = Path(__file__).with_name("sockjs_page.html")
NODE_MODULES = ROOT / "node_modules"
VENDOR = {
    "sockjs.min.js": NODE_MODULES / "sockjs-client" / "dist" / "sockjs.min.js",
    "stomp.umd.min.js": NODE_MODULES / "@stomp" / "stompjs" / "bundles" / "stomp.umd.min.js",
}
TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"]
ANY_ORIGIN_TRANSPORTS = ["iframe-htmlfile", "jsonp-polling"]
"""A page of any origin can drive these without sending an ``Origin`` to check, so
SockJS serves them only when every origin is allowed (``allowed_origins = ["*"]``)."""
"""What the SockJS endpoint's /iframe.html loads; the tests answer it from node_modules."""


def _needs_browser() -> None:
    problem = None
    if not Path(CHROMIUM).exists():
        problem = "Chromium is not installed: run scripts/browser.sh"
    elif not all(path.exists() for path in VENDOR.values()):
        problem = "sockjs-client or @stomp/stompjs is not installed: run npm ci"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _needs_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Seen:
    """What a page printed and which of its requests failed, to explain a failure."""

    def __init__(self, page: Page) -> None:
        self.lines: list[str] = []
        page.on("console", lambda m: self.lines.append(f"console.{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.lines.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.lines.append(f"failed: {r.method} {r.url}"))
        page.on("response", self._response)

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.lines.append(f"{response.status} {response.request.method} {response.url}")

    def __str__(self) -> str:
        return "\n".join(self.lines) or "(nothing)"


def _evaluate(page: Page, seen: Seen, script: str, arg: Any = None) -> Any:
    """``page.evaluate``, failing with what the browser saw along the way."""
    from playwright.sync_api import Error

    try:
        return page.evaluate(script, arg)
    except Error as exc:
        failure = f"{exc.message}\n-- the browser saw:\n{seen}"
    pytest.fail(failure, pytrace=False)


# -- each transport against StompApp.sockjs_asgi -----------------------------------------


def _file(path: Path) -> Any:
    async def endpoint(request: Request) -> FileResponse:
        return FileResponse(path)

    return endpoint


def _under_uvicorn(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, port=port, log_level="warning", ws="websockets-sansio")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


def _page_app(stomp: StompApp, sockjs: SockJSEndpoint) -> Starlette:
    """The page, its scripts, POST /publish to /topic/x, and ``sockjs`` at /stomp."""

    async def publish(request: Request) -> PlainTextResponse:
        await stomp.send("/topic/x", (await request.body()).decode())
        return PlainTextResponse("sent")

    return Starlette(
        routes=[
            Route("/", _file(PAGE)),
            Route("/publish", publish, methods=["POST"]),
            *(Route(f"/vendor/{name}", _file(path)) for name, path in VENDOR.items()),
            Mount("/stomp", app=sockjs),
        ]
    )


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    """A Starlette app serving the page, and a StompApp's ``sockjs_asgi`` at /stomp."""
    _needs_browser()
    stomp = StompApp()
    yield from _under_uvicorn(_page_app(stomp, stomp.sockjs_asgi))


@pytest.fixture(scope="module")
def any_origin_url() -> Iterator[str]:
    """As ``app_url``, with every origin allowed: SockJS's iframe and JSONP transports on."""
    _needs_browser()
    # iframe.html loads sockjs-client from the page's own server, not from a CDN
    config = ServerConfig(allowed_origins=["*"], sockjs_client_url="/vendor/sockjs.min.js")
    stomp = StompApp(config=config)
    yield from _under_uvicorn(_page_app(stomp, stomp.sockjs_asgi))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stompjs_over_each_sockjs_transport(browser: Browser, app_url: str, transport: str) -> None:
    _round_trip(browser, app_url, transport)


@pytest.mark.parametrize("transport", ANY_ORIGIN_TRANSPORTS)
def test_stompjs_over_the_transports_of_any_origin(
    browser: Browser, any_origin_url: str, transport: str
) -> None:
    _round_trip(browser, any_origin_url, transport)


def _round_trip(browser: Browser, app_url: str, transport: str) -> None:
    """Connect over ``transport`` only, receive what the page sent to /topic/x and what
    the server published there, and disconnect."""
    page = browser.new_page()
    seen = Seen(page)
    try:
        page.goto(app_url)
        used = _evaluate(page, seen, "([u, t]) => openStomp(u, t)", [f"{app_url}stomp", transport])
        assert used == transport, seen

        _evaluate(page, seen, "() => publish('from the page')")
        assert _evaluate(page, seen, "() => nextMessage()") == "from the page"

        request = urllib.request.Request(f"{app_url}publish", data=b"from the server")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert _evaluate(page, seen, "() => nextMessage()") == "from the server"

        closed = _evaluate(page, seen, "() => closeStomp()")
        assert closed == {"code": 1000, "readyState": 3}, seen
    finally:
        page.close()


# -- the chat example with no WebSocket in the browser ----------------------------------


@pytest.fixture(scope="module")
def chat_url() -> Iterator[str]:
    _needs_browser()
    yield from serve_example("chat")


def test_chat_over_sockjs_without_websocket(browser: Browser, chat_url: str) -> None:
    from playwright.sync_api import expect

    pages: dict[str, Page] = {}
    sockets: list[str] = []
    streams: list[str] = []
    try:
        for user in ("alice", "bob"):
            page = browser.new_page()
            page.add_init_script("delete window.WebSocket")
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.on("request", lambda r: streams.append(r.url) if "/sockjs/" in r.url else None)
            page.goto(f"{chat_url}?transport=sockjs")
            assert page.evaluate("typeof WebSocket") == "undefined"
            page.fill("#user", user)
            page.click("#join")
            expect(page.locator("#status")).to_have_text(f"connected as {user}")
            expect(page.locator("#rooms li")).to_have_count(3)
            pages[user] = page
        alice, bob = pages["alice"], pages["bob"]

        alice.fill("#text", "hello over sockjs")
        alice.click("#send")
        for page in (alice, bob):
            expect(page.locator("#messages li").last).to_have_text("alicehello over sockjs")

        bob.fill("#to", "alice")
        bob.fill("#private-text", "psst")
        bob.click("#send-private")
        expect(alice.locator("#private li")).to_have_text(["bobpsst"])
        expect(alice.locator("#online li")).to_have_text(["alice", "bob"])
    finally:
        for page in pages.values():
            page.close()
    assert sockets == []
    assert any("/xhr_streaming" in url for url in streams), streams


# -- stompbox serve's SockJS endpoint, from a page of another origin ---------------------


def _page_server() -> ThreadingHTTPServer:
    files = {"/": PAGE} | {f"/vendor/{name}": path for name, path in VENDOR.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = files.get(self.path)
            if path is None:
                self.send_error(404)
                return
            body = path.read_bytes()
            kind = "text/html" if path.suffix == ".html" else "text/javascript"
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def serve_and_page(tmp_path: Path) -> Iterator[tuple[int, int, int, Path]]:
    """``stompbox serve`` letting the page's origin in: the page's port, its TCP port,
    its WebSocket port and the file it logs to."""
    _needs_browser()
    http = _page_server()
    http_port = http.server_address[1]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    port, ws_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            stompbox(
                "serve",
                "--port",
                str(port),
                "--ws-port",
                str(ws_port),
                "--allow-origin",
                f"http://127.0.0.1:{http_port}",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port)
        wait_for_port(ws_port)
        yield http_port, port, ws_port, log
    finally:
        process.terminate()
        process.wait(10)
        http.shutdown()
        http.server_close()


def test_stompbox_serve_over_sockjs_xhr_streaming(
    browser: Browser, serve_and_page: tuple[int, int, int, Path]
) -> None:
    http_port, port, ws_port, log = serve_and_page
    page = browser.new_page()
    seen = Seen(page)
    try:
        page.goto(f"http://127.0.0.1:{http_port}/")
        url = f"http://127.0.0.1:{ws_port}/ws"
        try:
            used = _evaluate(page, seen, "([u, t]) => openStomp(u, t)", [url, "xhr-streaming"])
            assert used == "xhr-streaming"
            _evaluate(page, seen, "() => publish('from the page')")
            assert _evaluate(page, seen, "() => nextMessage()") == "from the page"
            conn, _ = stomp_client(port)  # and from STOMP over TCP
            conn.send("/topic/x", "from tcp")
            conn.disconnect()
            assert _evaluate(page, seen, "() => nextMessage()") == "from tcp"
            closed = _evaluate(page, seen, "() => closeStomp()")
            assert closed == {"code": 1000, "readyState": 3}, seen
        except BaseException:
            print(f"-- stompbox serve logged:\n{log.read_text()}")
            raise
    finally:
        page.close()
