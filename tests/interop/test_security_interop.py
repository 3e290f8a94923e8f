"""@stomp/stompjs (the browser client) under Node logging in to ``stompbox serve --users``
over WebSocket: the right password connects and its messages carry its name; a wrong one
gets the same bare ``authentication failed`` that every other client gets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from stompbox.security.passwords import UsersFile

from ..server.serve_process import ServeProcess

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("stompjs_login.mjs")


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``stompbox serve --users FILE`` with guest/guest, as a ws:// URL."""
    problem = None
    if shutil.which("node") is None:
        problem = "Node.js is not installed"
    elif not (ROOT / "node_modules" / "@stomp" / "stompjs").exists():
        problem = "@stomp/stompjs is not installed: run npm ci"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    directory = tmp_path_factory.mktemp("stompjs-login")
    users = UsersFile(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    users.set("guest", "guest")
    users.save(directory / "users")
    with ServeProcess(directory, "--users", str(directory / "users"), ws=True) as server:
        yield f"ws://127.0.0.1:{server.ws_port}/ws"


def stompjs_login(url: str, login: str, passcode: str) -> dict[str, Any]:
    result = subprocess.run(
        ["node", str(SCRIPT), url, login, passcode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


def test_stompjs_logs_in_with_the_right_password(ws_url: str) -> None:
    seen = stompjs_login(ws_url, "guest", "guest")
    assert seen["errors"] == []
    assert seen["connected"] is True
    assert (seen["body"], seen["userId"]) == ("from stompjs", "guest")


@pytest.mark.parametrize(("login", "passcode"), [("guest", "wrong"), ("admin", "guest")])
def test_stompjs_is_refused_with_other_credentials(ws_url: str, login: str, passcode: str) -> None:
    seen = stompjs_login(ws_url, login, passcode)
    assert seen["connected"] is False
    assert seen["errors"] == [{"message": "authentication failed", "body": ""}]
