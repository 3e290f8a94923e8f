"""The chat example resumes a room after its connection was cut (issue 17): in headless
Chromium, messages sent meanwhile by another user are all shown, once, in order.

Chromium's offline emulation (``context.set_offline``) does not close a WebSocket that is
already open, so the page reaches the app through a TCP proxy that the test cuts (and
offline mode is set as well, so that the page's reconnection attempts fail meanwhile as
they would on a dead network). Needs what tests/e2e/test_chat_browser.py needs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from ..interop.proxy import Proxy
from .test_chat_browser import CHROMIUM, FLAGS, serve_example


@pytest.fixture(scope="module")
def chat_url() -> Iterator[str]:
    yield from serve_example("chat")


class ProxyThread:
    """The asyncio :class:`Proxy` on an event loop of its own, for a synchronous test."""

    def __init__(self, target_port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = Proxy(target_port)

    def call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)  # type: ignore[arg-type]

    def close(self) -> None:
        self.call(self.proxy.cut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_a_cut_connection_resumes_the_room_without_loss(chat_url: str) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    port = urlsplit(chat_url).port
    assert port is not None
    proxied = ProxyThread(port)
    proxied.call(proxied.proxy.start())
    via_proxy = f"http://127.0.0.1:{proxied.proxy.port}/"

    def join(page: Page, url: str, user: str) -> None:
        page.goto(url)
        page.fill("#user", user)
        page.click("#join")
        expect(page.locator("#status")).to_have_text(f"connected as {user}")
        expect(page.locator("#rooms li")).to_have_count(3)

    def say(page: Page, text: str) -> None:
        page.fill("#text", text)
        page.click("#send")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            alice_context = browser.new_context()
            alice = alice_context.new_page()
            join(alice, via_proxy, "alice")
            bob = browser.new_context().new_page()
            join(bob, chat_url, "bob")
            lines = alice.locator("#messages li")

            say(bob, "one")
            expect(lines).to_have_text(["bobone"])
            alice.evaluate("() => { window.firstSocket = client.webSocket; }")

            alice_context.set_offline(True)
            proxied.call(proxied.proxy.cut())  # the network goes
            expect(alice.locator("body")).to_have_attribute("data-connected", "false")
            for text in ("two", "three", "four"):
                say(bob, text)
            expect(bob.locator("#messages li")).to_have_count(4)
            alice.wait_for_timeout(300)
            expect(lines).to_have_text(["bobone"])  # alice is cut off

            proxied.call(proxied.proxy.start())  # and comes back
            alice_context.set_offline(False)
            back = expect(alice.locator("body"))
            back.to_have_attribute("data-connected", "true", timeout=15_000)
            expect(lines).to_have_text(["bobone", "bobtwo", "bobthree", "bobfour"])
            say(bob, "five")
            expected = ["bobone", "bobtwo", "bobthree", "bobfour", "bobfive"]
            expect(lines).to_have_text(expected)
            alice.wait_for_timeout(300)
            expect(lines).to_have_text(expected)  # once each, nothing after
            expect(alice.locator("#errors .notice")).to_have_count(0)  # no gap reported
            assert alice.evaluate("() => client.connected && client.webSocket !== firstSocket")
        finally:
            browser.close()
            proxied.close()
