"""The web console's files on the management listener of a real ``stompbox serve``: the
page at ``/``, the directory's files at ``/console/<file>`` with their content types,
nothing else (no path out of the directory), behind the same credentials as the rest;
and the vendored @stomp/stompjs bundle is the one package-lock.json pins."""

from __future__ import annotations

import base64
import http.client
import json
import re
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from stompbox.security.passwords import hash_password
from stompbox.server.console import ConsoleFiles

from .test_management import CHEAP, serving

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "src" / "stompbox" / "server" / "console"
OPS = "Basic " + base64.b64encode(b"ops:ops").decode()


def fetch(port: int, path: str, auth: str | None = None) -> tuple[int, str, bytes]:
    """GET ``path`` exactly as written (no normalisation of ``..``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": auth} if auth else {})
        answer = connection.getresponse()
        return answer.status, answer.getheader("content-type") or "", answer.read()
    finally:
        connection.close()


def test_the_page_and_its_files_with_their_types_and_nothing_else(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text(f"ops:{hash_password('ops', hasher=CHEAP)}:management\n")
    with serving("--users", str(users)) as (_, http_port, _):
        assert fetch(http_port, "/")[0] == 401  # the same credentials as /metrics
        assert fetch(http_port, "/console/console.js")[0] == 401
        status, kind, body = fetch(http_port, "/", OPS)
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert body == (CONSOLE / "index.html").read_bytes()
        for name, expected in [
            ("console.js", "text/javascript; charset=utf-8"),
            ("console.css", "text/css; charset=utf-8"),
            ("stomp.umd.min.js", "text/javascript; charset=utf-8"),
        ]:
            status, kind, body = fetch(http_port, f"/console/{name}", OPS)
            assert (status, kind, body) == (200, expected, (CONSOLE / name).read_bytes())
        for path in [
            "/console/../management.py",
            "/console/..%2Fmanagement.py",
            "/console/%2e%2e/management.py",
            "/console/..%5cmanagement.py",
            "/console//etc/passwd",
            "/console/",
            "/console/missing.js",
            "/index.html",
            "/console.js",
        ]:
            status, _, body = fetch(http_port, path, OPS)
            assert status == 404, path
            assert b"import" not in body and b"root:" not in body, path


def test_every_page_reference_is_a_served_file() -> None:
    page = (CONSOLE / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="/console/([^"]+)"', page))
    assert referenced == {"console.css", "console.js", "stomp.umd.min.js"}
    assert referenced <= set(ConsoleFiles().files)


def test_the_vendored_stompjs_is_the_locked_version_unchanged() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/@stomp/stompjs"]["version"]
    vendored = (CONSOLE / "stomp.umd.min.js").read_bytes()
    header, _, bundle = vendored.partition(b"*/\n")
    assert header.startswith(f"/*! @stomp/stompjs {version} ".encode())
    assert b"Apache-2.0" in header
    assert (CONSOLE / "stompjs-LICENSE.txt").read_text().lstrip().startswith("Apache License")
    installed = ROOT / "node_modules" / "@stomp" / "stompjs"
    if not installed.exists():
        pytest.skip("node_modules not installed (npm ci): the bytes cannot be compared")
    package = json.loads((installed / "package.json").read_text())
    assert package["version"] == version
    assert bundle == (installed / "bundles" / "stomp.umd.min.js").read_bytes()


def test_the_console_websocket_needs_the_role_and_the_page_origin(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text(
        f"ops:{hash_password('ops', hasher=CHEAP)}:management\n"
        f"ann:{hash_password('ann', hasher=CHEAP)}\n"
    )
    ann = "Basic " + base64.b64encode(b"ann:ann").decode()
    with serving("--users", str(users)) as (_, http_port, _):
        page = f"http://127.0.0.1:{http_port}"

        def open_ws(path: str, auth: str | None, origin: str = page) -> ClientConnection:
            headers = {"Authorization": auth} if auth else {}
            return connect(
                f"ws://127.0.0.1:{http_port}{path}",
                additional_headers=headers,
                origin=Origin(origin),
                subprotocols=[Subprotocol("v12.stomp")],
                open_timeout=10,
            )

        for path, auth, origin in [
            ("/ws", None, page),
            ("/ws", ann, page),  # a user without the management role
            ("/ws", OPS, "http://evil.example"),  # another site's page, ops's browser
            ("/other", OPS, page),
        ]:
            with pytest.raises(InvalidStatus) as refused:
                open_ws(path, auth, origin).close()
            assert refused.value.response.status_code == 403, (path, auth, origin)

        with open_ws("/ws", OPS) as ws:  # no login in CONNECT: the handshake's user counts
            ws.send("CONNECT\naccept-version:1.2\nhost:/\n\n\0")
            assert str(ws.recv(timeout=10)).startswith("CONNECTED\n")
            status, _, body = fetch(http_port, "/api/connections", OPS)
            assert status == 200
            assert [(c["transport"], c["user"]) for c in json.loads(body)] == [("ws", "ops")]
