"""The chat example in headless Chromium: users in a room, a private message, error notices.

Needs Debian's ``chromium`` (``scripts/browser.sh`` installs it, as CI does) and the npm
packages (``npm ci``); skips with a hint elsewhere, fails under CI.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from ..support import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed: run scripts/browser.sh"
    if not (ROOT / "node_modules" / "@stomp" / "stompjs").exists():
        return "@stomp/stompjs is not installed: run npm ci"
    return None


def serve_example(name: str) -> Iterator[str]:
    problem = _missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"{name}_example", ROOT / "examples" / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(module.app, port=port, log_level="warning", ws="websockets-sansio")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def chat_url() -> Iterator[str]:
    yield from serve_example("chat")


@pytest.fixture(scope="module")
def greeting_url() -> Iterator[str]:
    yield from serve_example("greeting")


def test_greeting_page(greeting_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(greeting_url)
            page.click("#connect")
            expect(page.locator("#status")).to_have_text("connected")
            page.fill("#name", "Ada")
            page.click("#send")
            expect(page.locator("#greetings p")).to_have_text(["Hello, Ada!"])
        finally:
            browser.close()


def test_two_browsers_chat_and_whisper(chat_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            pages = {}
            for user in ("alice", "bob", "carol"):
                page = browser.new_page(viewport={"width": 1100, "height": 640})
                page.goto(chat_url)
                page.fill("#user", user)
                page.click("#join")
                expect(page.locator("#status")).to_have_text(f"connected as {user}")
                expect(page.locator("#rooms li")).to_have_count(3)
                pages[user] = page
            alice, bob, carol = pages["alice"], pages["bob"], pages["carol"]

            # a room message reaches everyone in the room
            alice.fill("#text", "hello from alice")
            alice.click("#send")
            for page in (alice, bob, carol):
                expect(page.locator("#messages li").last).to_have_text("alicehello from alice")

            # rooms are separate: bob moves to #python, carol stays in #lobby
            bob.click("#rooms li[data-room=python]")
            expect(bob.locator("#room-title")).to_have_text("#python")
            bob.fill("#text", "pythonistas only")
            bob.click("#send")
            expect(bob.locator("#messages li").last).to_have_text("bobpythonistas only")

            # a private message reaches bob (and alice's own copy), not carol
            alice.fill("#to", "bob")
            alice.fill("#private-text", "just for you")
            alice.click("#send-private")
            expect(bob.locator("#private li")).to_have_text(["alicejust for you"])
            expect(alice.locator("#private li")).to_have_text(["alicejust for you"])
            carol.wait_for_timeout(300)
            expect(carol.locator("#private li")).to_have_count(0)
            expect(carol.locator("#messages li")).to_have_text(["alicehello from alice"])

            # presence came through the messaging template
            expect(alice.locator("#online li")).to_have_text(["alice", "bob", "carol"])
            if os.environ.get("STOMPBOX_SCREENSHOT"):
                alice.screenshot(path=os.environ["STOMPBOX_SCREENSHOT"])
        finally:
            browser.close()


def test_error_notice_keeps_the_session(chat_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 560})
            page.goto(chat_url)
            page.fill("#user", "dave")
            page.click("#join")
            expect(page.locator("#status")).to_have_text("connected as dave")
            expect(page.locator("#rooms li")).to_have_count(3)
            page.evaluate("() => { window.firstSocket = client.webSocket; }")

            # a payload that does not fit Post: the chat's ValueError handler answers it
            page.evaluate(
                """() => client.publish({
                    destination: "/app/chat/lobby", body: JSON.stringify({ txt: 1 }) })"""
            )
            notices = page.locator("#errors .notice span")
            expect(notices).to_have_text(["Post has no field(s) txt"])

            # no handler: stompbox's own report, its `message` header and the details
            page.evaluate("() => client.publish({ destination: '/app/nowhere', body: 'hi' })")
            expect(notices.last).to_have_text(
                "no handler: no @app.message handler for /app/nowhere"
            )

            # the session goes on: a message goes through on the same WebSocket
            page.fill("#text", "still here")
            page.click("#send")
            expect(page.locator("#messages li").last).to_have_text("davestill here")
            assert page.evaluate("() => client.connected && client.webSocket === firstSocket")
            expect(page.locator("#status")).to_have_text("connected as dave")
            if os.environ.get("STOMPBOX_ERROR_SCREENSHOT"):
                page.screenshot(path=os.environ["STOMPBOX_ERROR_SCREENSHOT"])

            # a notice is dismissed with its button
            page.locator("#errors .notice button").first.click()
            expect(notices).to_have_text(["no handler: no @app.message handler for /app/nowhere"])
        finally:
            browser.close()
