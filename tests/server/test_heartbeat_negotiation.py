"""Heart-beats over real sockets: the server honours the client's intervals down to the
floor (as RabbitMQ and ActiveMQ do), and announces exactly what it will do."""

from __future__ import annotations

import time

import pytest

from stompbox.server import ServerConfig

from .helpers import RawClient, ServerThread


@pytest.mark.parametrize(
    ("asked", "announced"),
    [
        (b"1000,1000", "1000,1000"),  # not the configured 10000,10000
        (b"60000,30000", "30000,60000"),
        (b"10,20", "1000,1000"),  # the floor
        (b"0,2000", "2000,0"),
        (b"0,0", "0,0"),
        (None, "0,0"),
    ],
)
def test_connected_announces_the_clients_intervals(
    server: ServerThread, asked: bytes | None, announced: str
) -> None:
    client = RawClient(server.port)
    connected = client.connect("1.2", b"heart-beat:" + asked + b"\n" if asked else b"")
    assert connected.get("heart-beat") == announced


def test_a_zero_in_the_configuration_switches_a_direction_off() -> None:
    with ServerThread(ServerConfig(port=0, ws_port=0, heartbeat=(0, 10_000))) as server:
        client = RawClient(server.port)
        assert client.connect("1.2", b"heart-beat:2000,3000\n").get("heart-beat") == "0,2000"


def test_the_server_beats_at_the_clients_interval() -> None:
    config = ServerConfig(port=0, ws_port=0, heartbeat_floor=100)  # heartbeat 10000,10000
    with ServerThread(config) as server:
        client = RawClient(server.port)
        assert client.connect("1.2", b"heart-beat:0,150\n").get("heart-beat") == "150,0"
        raw = len(client.raw)
        time.sleep(0.5)
        client.sock.settimeout(1)
        data = client.sock.recv(100)
        assert len(client.raw) == raw
        assert set(data) == {ord("\n")} and len(data) >= 2


def test_a_client_silent_past_its_own_interval_is_closed() -> None:
    config = ServerConfig(port=0, ws_port=0, heartbeat_floor=100)  # heartbeat 10000,10000
    with ServerThread(config) as server:
        client = RawClient(server.port)
        client.connect("1.2", b"heart-beat:150,0\n")
        start = time.monotonic()
        assert client.next_frame().get("message") == "heart-beat timeout"
        assert 0.25 < time.monotonic() - start < 2.0  # 2 x 150 ms, not 2 x 10 s


def test_a_heartbeat_timeout_is_logged_with_the_peer_and_the_intervals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = ServerConfig(port=0, ws_port=0, heartbeat_floor=100)
    with ServerThread(config) as server, caplog.at_level("WARNING", "stompbox.server"):
        client = RawClient(server.port)
        client.connect("1.2", b"heart-beat:150,0\n")
        client.next_frame()
        time.sleep(0.2)
    lines = [r.getMessage() for r in caplog.records if "no heart-beat" in r.getMessage()]
    assert lines, [r.getMessage() for r in caplog.records]
    assert "127.0.0.1" in lines[0] and "every 150 ms" in lines[0] and "2 x" in lines[0]
