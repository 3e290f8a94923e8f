"""The web console in headless Chromium against a real ``stompbox serve``: stomp.py clients
make connections and a queue, and the page (signed in as a management user) shows them,
follows the live rates over its STOMP feed, browses, purges and closes a connection.

Needs Debian's ``chromium`` (``scripts/browser.sh``); skips with a hint elsewhere, fails
under CI. The screenshots script runs once too, into a temporary directory.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import stomp
from playwright.sync_api import Page, expect, sync_playwright

from stompbox.security.passwords import hash_password

from ..server.test_management import CHEAP, serving
from .test_chat_browser import CHROMIUM, FLAGS, ROOT

ORDERS = "/queue/orders"


class Client(stomp.ConnectionListener):  # type: ignore[misc]
    """A stomp.py connection that keeps what it was sent."""

    def __init__(self, port: int, login: str) -> None:
        self.errors: list[tuple[str, str]] = []
        self.messages: list[str] = []
        self.arrived = threading.Event()
        self.conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0))
        self.conn.set_listener("", self)
        self.conn.connect(login, login, wait=True)

    def on_error(self, frame: Any) -> None:
        self.errors.append((frame.headers.get("message", ""), frame.body))

    def on_message(self, frame: Any) -> None:
        if frame.headers.get("subscription") == "refuse":  # give up on it: dead-lettered
            self.conn.nack(frame.headers["ack"], requeue="false")
            return
        self.messages.append(frame.body)
        self.arrived.set()

    def send(self, destination: str, body: str) -> None:
        self.conn.send(destination, body, receipt=f"r-{time.monotonic_ns()}")

    def close(self) -> None:
        if self.conn.is_connected():
            self.conn.disconnect()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A running ``stompbox serve`` with users ops (management), ann and bob: its STOMP
    and management ports."""
    if not Path(CHROMIUM).exists():
        problem = "Chromium is not installed: run scripts/browser.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    users = tmp_path / "users.txt"
    users.write_text(
        "".join(
            f"{name}:{hash_password(name, hasher=CHEAP)}{roles}\n"
            for name, roles in [("ops", ":management"), ("ann", ""), ("bob", "")]
        )
    )
    with serving("--users", str(users)) as (port, http, _):
        yield port, http


def api(http: int, method: str, path: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{http}{path}", method=method)
    request.add_header("Authorization", "Basic " + base64.b64encode(b"ops:ops").decode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def depth(http: int, queue: str) -> int:
    """Messages waiting in ``queue``; 0 when the broker holds no such queue."""
    return sum(q["messages"] for q in api(http, "GET", "/api/queues") if q["name"] == queue)


@contextlib.contextmanager
def open_console(http: int) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(
            http_credentials={"username": "ops", "password": "ops"},
            viewport={"width": 1280, "height": 800},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"http://127.0.0.1:{http}/")
        yield page
        assert errors == []
        browser.close()


def test_the_console_shows_follows_browses_purges_and_closes(console: tuple[int, int]) -> None:
    port, http = console
    ann, bob = Client(port, "ann"), Client(port, "bob")
    try:
        for i in range(5):
            ann.send(ORDERS, f"order-{i}")
        bob.conn.subscribe("/queue/payments", "refuse", ack="client-individual")
        for i in range(2):
            ann.send("/queue/payments", f"payment-{i}")
        deadline = time.monotonic() + 10
        while depth(http, "/queue/DLQ.payments") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        bob.conn.unsubscribe("refuse")
        ann_id = next(c["id"] for c in api(http, "GET", "/api/connections") if c["user"] == "ann")
        with open_console(http) as page:
            # the overview shows the connection and the queue
            expect(page.locator(f'#overview-queues tr[data-queue="{ORDERS}"]')).to_contain_text("5")
            expect(page.locator("#overview-connections")).to_contain_text("ann")
            expect(page.locator("#connections-count")).to_have_text("3")  # and the page's own

            # live rates come over the STOMP feed
            expect(page.locator("#feed")).to_have_attribute("data-source", "stomp")
            for i in range(300):
                bob.conn.send("/topic/ticks", f"tick-{i}")
            bob.send("/topic/ticks", "last")
            page.wait_for_function(
                "() => document.getElementById('view-overview').dataset.source === 'stomp'"
                " && parseFloat(document.getElementById('rate-in').textContent) > 10"
            )

            # the message browser lists the waiting messages, oldest first
            page.goto(f"http://127.0.0.1:{http}/#browse/{quote(ORDERS, safe='')}")
            rows = page.locator("#browse-table tbody tr")
            expect(rows).to_have_count(5)
            expect(rows.first).to_contain_text("order-0")
            expect(rows.last).to_contain_text("order-4")

            # purge asks first; cancelling keeps the messages, confirming drops them
            page.locator('nav a[data-view="queues"]').click()
            purge = page.get_by_role("button", name=f"Purge queue {ORDERS}")
            purge.click()
            page.locator("#purge-dialog").get_by_role("button", name="Cancel").click()
            assert api(http, "GET", f"/api/queues/{quote(ORDERS, safe='')}")["messages"] == 5
            purge.click()
            expect(page.locator("#purge-dialog")).to_contain_text(f"{ORDERS} (5 waiting)")
            page.locator("#purge-confirm").click()
            expect(page.locator("#toast")).to_contain_text(f"Purged 5 message(s) from {ORDERS}")
            assert depth(http, ORDERS) == 0
            bob.conn.subscribe(ORDERS, "orders")
            bob.send(ORDERS, "after the purge")
            assert bob.arrived.wait(5)
            assert bob.messages == ["after the purge"]  # none of the five was left

            # requeue, on a dead-letter queue only, moves its messages where it is told
            assert page.get_by_role("button", name=f"Requeue dead letters of {ORDERS}").count() == 0
            page.get_by_role("button", name="Requeue dead letters of /queue/DLQ.payments").click()
            page.locator("#requeue-to").fill("/queue/retry")
            page.locator("#requeue-confirm").click()
            expect(page.locator("#toast")).to_contain_text("Moved 2 message(s)")
            assert depth(http, "/queue/retry") == 2 and depth(http, "/queue/DLQ.payments") == 0

            # closing a connection sends its client the reason, and only that client
            page.locator('nav a[data-view="connections"]').click()
            page.get_by_role("button", name=f"Close connection {ann_id} from 127.0.0.1").click()
            page.locator("#close-reason").fill("maintenance window")
            page.locator("#close-confirm").click()
            expect(page.locator("#toast")).to_contain_text(f"Closed connection {ann_id}")
            deadline = time.monotonic() + 5
            while not ann.errors and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ann.errors == [("closed by an administrator", "maintenance window")]
            expect(page.locator(f'#connections-table tr[data-id="{ann_id}"]')).to_have_count(0)
            assert bob.errors == []
            bob.send("/topic/ticks", "still here")  # a receipt: bob's connection is open
    finally:
        ann.close()
        bob.close()


def test_without_its_socket_the_page_polls_the_overview(console: tuple[int, int]) -> None:
    port, http = console
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(http_credentials={"username": "ops", "password": "ops"})
        page = context.new_page()
        page.route_web_socket("**/ws", lambda ws: ws.close(code=1011))  # the socket is down
        page.goto(f"http://127.0.0.1:{http}/")
        expect(page.locator("#feed")).to_have_attribute("data-source", "polling")
        expect(page.locator("#view-overview")).to_have_attribute("data-source", "polling")
        ann = Client(port, "ann")
        try:
            expect(page.locator("#connections-count")).to_have_text("1")  # a later poll
        finally:
            ann.close()
        browser.close()


def test_the_screenshots_script_writes_both_pictures(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        problem = "Chromium is not installed: run scripts/browser.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    script = ROOT / "scripts" / "console-screenshots.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--seconds", "6"],
        check=True,
        timeout=120,
    )
    for name in ("console-overview.png", "console-queues.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (1280, 800)
