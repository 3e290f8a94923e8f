"""``stompbox serve`` as a real process: start, serve, stop on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stompbox.security.passwords import hash_password

from ..support import free_port, stompbox, wait_for_port
from .helpers import RawClient, stomp_client


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        stompbox("serve", "--port", str(port), "--ws-port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port)
    yield process, port
    if process.poll() is None:
        process.kill()
    process.wait(5)
    assert process.stdout is not None
    process.stdout.close()


def test_serve_logs_connections_and_stops_cleanly_on_sigterm(
    serve: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = serve
    conn, listener = stomp_client(port)
    conn.subscribe("/queue/cli", id="1")
    conn.send("/queue/cli", "through the real server")
    assert listener.get().body == "through the real server"
    raw = RawClient(port)
    raw.connect()
    process.send_signal(signal.SIGTERM)
    error = raw.next_frame()
    assert error.get("message") == "server shutting down"
    assert raw.closed_by_server()
    assert process.wait(10) == 0
    assert process.stdout is not None
    log = process.stdout.read()
    assert "listening on 127.0.0.1:" in log
    assert "connected as" in log
    assert "stopped" in log


def test_sigint_exits_zero(serve: tuple[subprocess.Popen[str], int]) -> None:
    process, _ = serve
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0


def test_help_documents_options() -> None:
    out = subprocess.run(stompbox("serve", "--help"), capture_output=True, text=True, check=True)
    for option in ("--host", "--port", "--config", "--separator", "--slow-consumer-policy"):
        assert option in out.stdout


def test_config_file(tmp_path: Path) -> None:
    config = tmp_path / "stompbox.toml"
    port = free_port()
    config.write_text(
        f"""
[server]
port = {port}

[broker]
separator = "."
prefixes = {{ "/exchange/" = "topic", "/queue/" = "queue" }}

[users]
alice = "{hash_password("secret")}"
"""
    )
    process = subprocess.Popen(
        stompbox("serve", "--config", str(config), "--ws-port", "0"), stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port)
        conn, listener = stomp_client(port, username="alice", passcode="secret")
        conn.subscribe("/exchange/a.*", id="1", receipt="r")
        listener.receipts.get(timeout=5)
        conn.send("/exchange/a.b", "dot")
        assert listener.get().body == "dot"
        conn.disconnect()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[server]\nport = 'x'\n", "port"),
        ('[server]\nport = "abc"\n', "[server] port = 'abc': expected an integer 0-65535"),
        ("[limits]\nmax_body_size = -1\n", "[limits] max_body_size = -1: expected an integer"),
        (
            "[broker]\nslow_consumer_policy = 'slow'\n",
            "slow_consumer_policy = 'slow': expected one of 'drop-oldest', 'drop-newest'",
        ),
        ("[server]\nbogus = 1\n", "unknown key(s) in [server]: bogus"),
        ("[broker]\nseparator = ':'\n", "[broker] separator = ':': expected one of '/', '.'"),
        ("not toml = = =", "not valid TOML"),
        ("[nonsense]\n", "unknown section(s) nonsense"),
        ('[users]\nalice = "secret"\n', "stompbox passwd"),
        ("[security]\nusers_file = '/nonexistent/users'\n", "/nonexistent/users"),
        ("[[acl]]\nwho = 'any'\nactions = 'ack'\ndestinations = '/queue/x'\n", "ack"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    result = subprocess.run(
        stompbox("serve", "--config", str(config), "--ws-port", "0"),
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.startswith("stompbox serve: ")


def test_missing_config_file() -> None:
    result = subprocess.run(
        stompbox("serve", "--config", "/nonexistent.toml"), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "cannot read config file /nonexistent.toml" in result.stderr


def test_port_in_use() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            stompbox("serve", "--port", str(port), "--ws-port", "0"),
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ},
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_serve_an_application(tmp_path: Path) -> None:
    import asyncio

    from stompbox.client import connect

    port, ws_port = free_port(), free_port()
    chat = Path(__file__).resolve().parents[2] / "examples" / "chat" / "app.py"
    process = subprocess.Popen(
        stompbox("serve", "--app", f"{chat}:stomp", "--port", str(port), "--ws-port", str(ws_port)),
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port)
        wait_for_port(ws_port)  # the WebSocket listener starts after the TCP one

        async def main() -> None:
            async with (
                connect(f"ws://127.0.0.1:{ws_port}/ws", login="ann") as client,
                client.subscribe("/app/rooms") as rooms,
                client.subscribe("/topic/chat/lobby") as lobby,
            ):
                assert (await rooms.get(5)).json() == ["lobby", "python", "random"]
                await client.send("/app/chat/lobby", {"text": "hi"}, receipt=True)
                message = (await lobby.get(5)).json()
                assert (message["sender"], message["text"]) == ("ann", "hi")

        asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert process.stderr is not None
        process.stderr.close()


def test_serve_a_missing_application() -> None:
    result = subprocess.run(
        stompbox("serve", "--app", "no_such_module:app"), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "cannot load app 'no_such_module:app'" in result.stderr


def test_persistent_messages_survive_a_server_restart(tmp_path: Path) -> None:
    config = tmp_path / "stompbox.toml"
    config.write_text(f'[broker]\nstore = "{tmp_path / "messages.db"}"\n')
    port = free_port()
    command = stompbox("serve", "--config", str(config), "--port", str(port), "--ws-port", "0")

    first = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        conn, listener = stomp_client(port)
        conn.send("/queue/durable", "survives", headers={"persistent": "true"}, receipt="r")
        assert listener.receipts.get(timeout=5) == "r"
        conn.send("/queue/durable", "does not")
        conn.disconnect()
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(10) == 0

    second = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        conn, listener = stomp_client(port)
        conn.subscribe("/queue/durable", id="1")
        assert listener.get().body == "survives"
        assert listener.none_within(0.3)
        conn.disconnect()
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0
