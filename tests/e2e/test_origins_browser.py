"""Cross-site WebSocket hijacking, tried in headless Chromium: one page, served from an
allowed origin and from another, opens a WebSocket to the ``serve`` listener.

``http://127.0.0.1:port`` and ``http://localhost:port`` are the same server but different
origins, so the browser sends a different ``Origin`` for each. Needs Debian's
``chromium`` (``scripts/browser.sh``); skips with a hint elsewhere, fails under CI.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stompbox.server import ServerConfig

from ..server.helpers import ServerThread
from ..support import free_port
from .test_chat_browser import CHROMIUM, FLAGS

PAGE = """<!doctype html>
<title>origin check</title>
<p id="status">connecting</p>
<script>
  const status = document.getElementById("status");
  const ws = new WebSocket("{url}", ["v12.stomp"]);
  ws.onopen = () => ws.send("CONNECT\\naccept-version:1.2\\nhost:/\\n\\n\\0");
  ws.onmessage = (event) => {{
    if (String(event.data).startsWith("CONNECTED\\n")) status.textContent = "CONNECTED";
  }};
  ws.onclose = (event) => {{
    if (status.textContent !== "CONNECTED") status.textContent = `closed ${{event.code}}`;
  }};
</script>
"""


def _page_server(page: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def page_and_broker() -> Iterator[int]:
    """The page's HTTP port; the broker lets pages of http://127.0.0.1:that port in."""
    if not Path(CHROMIUM).exists():
        problem = "Chromium is not installed: run scripts/browser.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    ws_port = free_port()
    http = _page_server(PAGE.format(url=f"ws://127.0.0.1:{ws_port}/ws").encode())
    http_port = http.server_address[1]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    config = ServerConfig(
        port=0, ws_port=ws_port, allowed_origins=[f"http://127.0.0.1:{http_port}"]
    )
    try:
        with ServerThread(config):
            yield http_port
    finally:
        http.shutdown()
        http.server_close()


def test_a_page_from_another_origin_is_refused(
    page_and_broker: int, caplog: pytest.LogCaptureFixture
) -> None:
    from playwright.sync_api import expect, sync_playwright

    port = page_and_broker
    with (
        caplog.at_level(logging.WARNING, logger="stompbox.server"),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            allowed = browser.new_page()
            allowed.goto(f"http://127.0.0.1:{port}/")
            expect(allowed.locator("#status")).to_have_text("CONNECTED")

            other = browser.new_page()
            other.goto(f"http://localhost:{port}/")
            expect(other.locator("#status")).to_have_text("closed 1006")  # no handshake
        finally:
            browser.close()
    refusals = [r.getMessage() for r in caplog.records if "handshake refused" in r.getMessage()]
    assert len(refusals) == 1, refusals
    assert refusals[0].endswith(
        f": WebSocket handshake refused: origin 'http://localhost:{port}' is not allowed"
    )
