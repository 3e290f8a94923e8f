"""@stomp/stompjs (the browser client) under Node against stompbox's WebSocket endpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stompbox.server import ServerConfig

from ..server.helpers import ServerThread
from ..support import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("stompjs_client.mjs")


@pytest.fixture(scope="module")
def ws_url() -> Iterator[str]:
    problem = None
    if shutil.which("node") is None:
        problem = "Node.js is not installed"
    elif not (ROOT / "node_modules" / "@stomp" / "stompjs").exists():
        problem = "@stomp/stompjs is not installed: run npm ci"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    port = free_port()
    config = ServerConfig(port=0, ws_port=port, heartbeat=(1000, 1000))
    with ServerThread(config):
        yield f"ws://127.0.0.1:{port}/ws"


def run_stompjs(url: str) -> dict[str, object]:
    result = subprocess.run(
        ["node", str(SCRIPT), url], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_stompjs_text_binary_receipts_heartbeats(ws_url: str) -> None:
    seen = run_stompjs(ws_url)
    assert seen["errors"] == []
    assert seen["connected"] == {"version": "1.2", "heartBeat": "1000,1000"}
    messages = seen["messages"]
    assert isinstance(messages, list)
    assert messages[0]["text"] == "héllo text"
    assert messages[0]["custom"] == "1"
    assert messages[1]["bytes"] == [0, 255, 1, 0]
    assert messages[1]["contentType"] == "application/octet-stream"
    assert messages[2]["text"] == "after heart-beats"
    assert seen["receipts"] == ["sent"]


def test_several_stompjs_clients_at_once(ws_url: str) -> None:
    results: list[dict[str, object]] = []
    threads = [
        threading.Thread(target=lambda: results.append(run_stompjs(ws_url))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)
    assert len(results) == 3
    assert all(r["errors"] == [] for r in results)
