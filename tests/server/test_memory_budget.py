"""The memory budget over the wire: what clients make the broker hold is bounded as a
whole, publishers are paused past it and told after ``memory_grace``, and everything is
read again once the broker drains."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from stompbox.broker import BrokerConfig
from stompbox.server import ServerConfig

from .helpers import RawClient, ServerThread

KiB = 1024
MiB = 1024 * KiB
BUDGET = 2 * MiB


def send_frame(destination: str, body: bytes, *extra: str) -> bytes:
    head = f"SEND\ndestination:{destination}\ncontent-length:{len(body)}\n"
    return (head + "".join(f"{h}\n" for h in extra) + "\n").encode() + body + b"\0"


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[ServerThread]:
    grace = getattr(request, "param", 1.0)
    config = ServerConfig(
        port=0,
        ws_port=0,
        frame_timeout=1.0,
        broker=BrokerConfig(memory_budget=BUDGET, memory_grace=grace),
    )
    with ServerThread(config) as thread:
        yield thread


class Flood(threading.Thread):
    """Sends one frame over and over, blocking when the server stops reading, until
    ``limit`` frames are sent or the server closes."""

    def __init__(self, client: RawClient, frame: bytes, limit: int) -> None:
        super().__init__(daemon=True)
        self.client, self.frame, self.limit = client, frame, limit
        self.sent = 0

    def run(self) -> None:
        self.client.sock.settimeout(None)
        try:
            while self.sent < self.limit:
                self.client.sock.sendall(self.frame)
                self.sent += 1
        except OSError:
            pass

    def stalled(self, timeout: float = 10.0, quiet: float = 0.5) -> bool:
        """Whether sending stops making progress (for ``quiet`` seconds) within
        ``timeout``: the server is no longer reading."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.sent
            time.sleep(quiet)
            if self.sent == before and self.is_alive():
                return True
        return False


def used(server: ServerThread) -> int:
    assert server.broker is not None
    return server.broker.memory.used


def wait_until(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("server", [3.0], indirect=True)
def test_a_publisher_past_the_budget_is_not_read_then_told(server: ServerThread) -> None:
    publisher = RawClient(server.port)
    publisher.connect()
    flood = Flood(publisher, send_frame("/queue/a", b"x" * (10 * KiB)), limit=100_000)
    flood.start()
    assert flood.stalled(), "the server kept reading past its memory budget"
    held = used(server)
    # one read past the budget is accepted, no more (asyncio reads 256 KiB at most)
    assert BUDGET * 0.9 < held < BUDGET + 300 * KiB, held
    assert server.broker is not None and server.broker.memory.over
    error = publisher.next_frame(timeout=5)
    assert error.command == "ERROR"
    assert error.get("message") == "memory budget exceeded"
    assert b"memory_budget=2 MiB" in error.body
    assert publisher.closed_by_server()
    # what was accepted stays accepted: a consumer gets every message the queue took
    assert server.broker is not None
    accepted = server.broker.queue_depth("/queue/a")
    assert accepted * 10 * KiB <= held
    consumer = RawClient(server.port)
    consumer.connect()
    consumer.send(b"SUBSCRIBE\nid:0\ndestination:/queue/a\n\n\0")
    for _ in range(accepted):
        assert consumer.next_frame().command == "MESSAGE"
    assert wait_until(lambda: used(server) < 64 * KiB), used(server)


@pytest.mark.parametrize("server", [30.0], indirect=True)
def test_a_paused_publisher_is_read_again_once_the_broker_drains(server: ServerThread) -> None:
    publisher = RawClient(server.port)
    publisher.connect()
    frame = send_frame("/queue/a", b"x" * (10 * KiB))
    flood = Flood(publisher, frame, limit=2000)  # 20 MiB: ten times the budget
    flood.start()
    assert flood.stalled()
    idle = RawClient(server.port)  # connected before the budget was passed... or after:
    idle.connect()  # either way it may still subscribe and drain
    idle.send(b"SUBSCRIBE\nid:0\ndestination:/queue/a\nack:client-individual\n\n\0")
    received = 0
    while received < 2000:
        message = idle.next_frame(timeout=10)
        assert message.command == "MESSAGE", message
        idle.send(b"ACK\nid:" + (message.get("ack") or "").encode() + b"\n\n\0")
        received += 1
    flood.join(10)
    assert flood.sent == 2000
    assert wait_until(lambda: used(server) < 64 * KiB), used(server)


@pytest.mark.parametrize("server", [30.0], indirect=True)
def test_an_idle_connection_is_paused_but_a_consumer_can_still_ack(
    server: ServerThread,
) -> None:
    consumer = RawClient(server.port)
    consumer.connect()
    consumer.send(b"SUBSCRIBE\nid:0\ndestination:/queue/a\nack:client\n\n\0")
    idle = RawClient(server.port)
    idle.connect()
    publisher = RawClient(server.port)
    publisher.connect()
    flood = Flood(publisher, send_frame("/queue/a", b"y" * (10 * KiB)), limit=100_000)
    flood.start()
    assert flood.stalled()
    # the consumer holds unacked messages; its ACK is read and frees the budget
    last = None
    while True:
        try:
            last = consumer.next_frame(timeout=0.5)
        except TimeoutError:
            break
    assert last is not None and last.command == "MESSAGE"
    # the idle client is not read: its SEND waits in the socket
    idle.send(send_frame("/queue/b", b"z", "receipt:r"))
    assert server.broker is not None
    time.sleep(0.3)
    assert server.broker.queue_depth("/queue/b") == 0
    consumer.send(b"ACK\nid:" + (last.get("ack") or "").encode() + b"\n\n\0")
    assert wait_until(lambda: server.broker.queue_depth("/queue/b") == 1)
    assert idle.next_frame().command == "RECEIPT"


def test_parked_partial_frames_count_and_time_out(server: ServerThread) -> None:
    clients = []
    for _ in range(6):  # 6 x 512 KiB of unfinished frames: past the 2 MiB budget
        client = RawClient(server.port)
        client.connect()
        client.send(b"SEND\ndestination:/queue/p\ncontent-length:1000000\n\n" + b"p" * 512 * KiB)
        clients.append(client)
    assert wait_until(lambda: used(server) > 5 * 256 * KiB)
    assert server.broker is not None and server.broker.memory.over
    for client in clients:
        error = client.next_frame(timeout=5)
        assert error.command == "ERROR"
        assert error.get("message") in ("frame timeout", "memory budget exceeded")
        assert client.closed_by_server()
    assert wait_until(lambda: used(server) == 0), used(server)
    assert not server.broker.memory.over


def test_transactions_are_bounded_in_bytes_per_connection() -> None:
    config = ServerConfig(port=0, ws_port=0, broker=BrokerConfig(max_transaction_bytes=1 * MiB))
    with ServerThread(config) as server:
        client = RawClient(server.port)
        client.connect()
        body = b"t" * (200 * KiB)
        for tx in range(4):
            client.send(f"BEGIN\ntransaction:t{tx}\n\n\0".encode())
            client.send(send_frame("/queue/t", body, f"transaction:t{tx}"))
        for _ in range(2):  # 6 x 200 KiB: past 1 MiB
            client.send(send_frame("/queue/t", body, "transaction:t0"))
        error = client.next_frame()
        assert error.get("message") == f"max_transaction_bytes limit of {MiB} exceeded"
        assert client.closed_by_server()
        assert wait_until(lambda: used(server) == 0), used(server)
