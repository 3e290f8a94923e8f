#!/usr/bin/env python3
"""Screenshots of the web console for the docs: docs/console-overview.png and
docs/console-queues.png, 1280x800, dark.

Starts a real ``stompbox serve`` (free ports, a throw-away users file), makes traffic with
stomp.py (orders consumed as they come, invoices piling up, payments refused into a
dead-letter queue, prices on a topic), opens the console in headless Chromium as a
management user and shoots once the rates have had ``--seconds`` to draw. Needs what the
browser tests need (scripts/browser.sh).

    .venv/bin/python scripts/console-screenshots.py [--out docs] [--seconds 60]
"""

from __future__ import annotations

import argparse
import math
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import stomp
from argon2 import PasswordHasher
from playwright.sync_api import sync_playwright

from stompbox.security.passwords import hash_password

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
USERS = [("ops", "management"), ("orders-api", ""), ("billing", ""), ("pricing", "")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Refuser(stomp.ConnectionListener):  # type: ignore[misc]
    """A payments consumer that gives up on every message: each goes to DLQ.payments."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def on_message(self, frame: Any) -> None:
        headers = frame.headers
        self.conn.nack(headers["ack"], requeue="false")


class Batch(stomp.ConnectionListener):  # type: ignore[misc]
    """An invoices job that settles ``take`` messages and leaves the rest queued."""

    def __init__(self, conn: Any, take: int) -> None:
        self.conn = conn
        self.left = take

    def on_message(self, frame: Any) -> None:
        if self.left > 0:
            self.left -= 1
            self.conn.ack(frame.headers["ack"])


def connect(port: int, login: str) -> Any:
    conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0))
    conn.connect(login, login, wait=True)
    return conn


def traffic(port: int, stop: threading.Event) -> None:
    """Orders at a wavy 15-45/s, consumed; invoices at 5/s, 60 taken by a batch job every
    15 s; a payment a second, refused; prices at 30/s to two subscribers."""
    producer, prices = connect(port, "orders-api"), connect(port, "pricing")
    consumer, refuser = connect(port, "billing"), connect(port, "billing")
    consumer.subscribe("/queue/orders", "orders")
    consumer.subscribe("/topic/prices.eur", "prices")
    prices.subscribe("/topic/prices.eur", "own")
    refuser.set_listener("", Refuser(refuser))
    refuser.subscribe("/queue/payments", "payments", ack="client-individual")
    started = time.monotonic()
    tick = 0
    while not stop.is_set():
        elapsed = time.monotonic() - started
        per_tick = 3 + 1.5 * math.sin(elapsed / 6)
        for i in range(round(per_tick)):
            producer.send("/queue/orders", f'{{"order": {tick * 10 + i}, "sku": "A-{i}"}}')
        if tick % 2 == 0:
            producer.send(
                "/queue/invoices",
                f'{{"invoice": "INV-{tick:05d}", "amount": {19.9 + tick % 7:.2f}}}',
                headers={"content-type": "application/json"},
            )
        if tick % 10 == 0:
            producer.send("/queue/payments", f'{{"payment": {tick}, "card": "declined"}}')
        for i in range(3):
            prices.send("/topic/prices.eur", f'{{"bid": {1.08 + i / 1000:.4f}}}')
        if tick % 150 == 100:  # a batch job takes most of the invoices now and then
            batch = connect(port, "billing")
            batch.set_listener("", Batch(batch, take=60))
            batch.subscribe(
                "/queue/invoices", "batch", ack="client-individual", headers={"prefetch-count": 10}
            )
            time.sleep(0.5)
            batch.disconnect()
        tick += 1
        time.sleep(0.1)
    for conn in (producer, prices, consumer, refuser):
        conn.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with tempfile.TemporaryDirectory() as directory:
        users = Path(directory) / "users.txt"
        users.write_text(
            "".join(
                f"{name}:{hash_password(name, hasher=cheap)}{':' + roles if roles else ''}\n"
                for name, roles in USERS
            )
        )
        port, http = free_port(), free_port()
        command = [sys.executable, "-m", "stompbox.cli", "serve", "--port", str(port)]
        command += ["--ws-port", "0", "--http-port", str(http), "--users", str(users)]
        server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        stop = threading.Event()
        worker = threading.Thread(target=traffic, args=(port, stop))
        try:
            wait_for_port(port)
            wait_for_port(http)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                context = browser.new_context(
                    http_credentials={"username": "ops", "password": "ops"},
                    viewport={"width": 1280, "height": 800},
                    color_scheme="dark",
                )
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{http}/")
                page.wait_for_selector('#feed[data-source="stomp"]')
                worker.start()
                time.sleep(args.seconds)
                args.out.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out / "console-overview.png"))
                page.locator('nav a[data-view="queues"]').click()
                page.wait_for_selector('#queues-table tr[data-queue="/queue/DLQ.payments"]')
                time.sleep(2)  # the queues' history, fetched on showing the view
                page.screenshot(path=str(args.out / "console-queues.png"))
                browser.close()
        finally:
            stop.set()
            if worker.is_alive():
                worker.join(10)
            server.send_signal(signal.SIGTERM)
            server.wait(15)
    print(f"wrote {args.out / 'console-overview.png'} and {args.out / 'console-queues.png'}")


if __name__ == "__main__":
    main()
