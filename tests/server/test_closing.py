"""An ERROR reaches the client even when the server closes with the client's input
unread: closing such a socket outright makes the kernel send a reset, and the client's
kernel then throws away the ERROR it had not read yet."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import pytest

from stompbox.broker import BrokerConfig, SlowConsumerPolicy
from stompbox.server import ServerConfig

from .helpers import RawClient, ServerThread


def send_all(client: RawClient, data: bytes) -> None:
    with contextlib.suppress(OSError):
        client.sock.sendall(data)


def test_an_error_survives_a_client_still_sending() -> None:
    with ServerThread(ServerConfig(port=0, ws_port=0)) as server:
        for _ in range(5):
            client = RawClient(server.port)
            junk = b"CONNECT\nh:" + b"x" * (4 * 1024 * 1024)  # past the 16 KiB of CONNECT
            sender = threading.Thread(target=send_all, args=(client, junk), daemon=True)
            sender.start()
            time.sleep(0.2)  # the server has refused it, and 4 MiB are still coming
            error = client.next_frame()
            assert error.command == "ERROR"
            assert "limit of" in (error.get("message") or "")
            assert client.closed_by_server()
            sender.join(5)
            client.close()


def test_a_lingering_connection_closes_once_the_client_is_quiet() -> None:
    with ServerThread(ServerConfig(port=0, ws_port=0)) as server:
        assert server.server is not None
        client = RawClient(server.port)
        client.connect()
        client.send(b"NOT-A-COMMAND\n\n\0")
        assert client.next_frame().command == "ERROR"
        started = time.monotonic()
        assert client.closed_by_server()  # the half-close: EOF at once
        while server.server.connections and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert time.monotonic() - started < 1.0  # quiet: closed after 0.1 s, not 2 s
        client.close()


def test_a_slow_consumer_still_sending_gets_its_error_after_its_backlog() -> None:
    """The server stops reading a client whose output is full; when it then disconnects
    it as a slow consumer, the client's unread SENDs must not turn the close into a
    reset that throws away the backlog and the ERROR at its end."""
    config = ServerConfig(
        port=0,
        ws_port=0,
        outbound_buffer=64 * 1024,
        broker=BrokerConfig(
            topic_pending_messages=10, slow_consumer_policy=SlowConsumerPolicy.DISCONNECT
        ),
    )
    with ServerThread(config) as server:
        slow = RawClient(server.port, rcvbuf=4096)
        slow.connect()
        slow.send(b"SUBSCRIBE\nid:0\ndestination:/topic/t\nreceipt:r\n\n\0")
        assert slow.next_frame().command == "RECEIPT"
        producer = RawClient(server.port)
        producer.connect()
        stop = threading.Event()

        def chatter() -> None:  # the slow client keeps sending, unread once it is paused
            frame = b"SEND\ndestination:/topic/other\n\n" + b"c" * 1000 + b"\0"
            slow.sock.settimeout(0.5)
            while not stop.is_set():
                try:
                    slow.sock.sendall(frame)
                except OSError:
                    time.sleep(0.05)

        talker = threading.Thread(target=chatter, daemon=True)
        talker.start()
        message = b"SEND\ndestination:/topic/t\n\n" + b"m" * 10_000 + b"\0"
        for _ in range(300):
            producer.send(message)
        time.sleep(1.0)  # the server gives up on the slow consumer meanwhile
        stop.set()
        talker.join(5)
        last = None
        while True:
            try:
                last = slow.next_frame(timeout=5)
            except (EOFError, ConnectionResetError) as exc:
                assert isinstance(exc, EOFError), "the connection was reset"
                break
        assert last is not None and last.command == "ERROR", last
        assert last.get("message") == "slow consumer"


def test_a_fan_out_reaching_a_connection_it_closed_writes_nothing_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One publish can close a subscriber (slow-consumer policy on one of its
    subscriptions) and still hand its other subscription the message: the closed,
    half-closed connection must drop that, not write after its end."""
    config = ServerConfig(
        port=0,
        ws_port=0,
        broker=BrokerConfig(
            topic_pending_messages=2, slow_consumer_policy=SlowConsumerPolicy.DISCONNECT
        ),
    )
    with ServerThread(config) as server:
        client = RawClient(server.port)
        client.connect()
        client.send(
            b"SUBSCRIBE\nid:held\ndestination:/topic/a\nack:client\nprefetch-count:1\n\n\0"
            b"SUBSCRIBE\nid:auto\ndestination:/topic/a\nreceipt:r\n\n\0"
        )
        assert client.next_frame().command == "RECEIPT"
        producer = RawClient(server.port)
        producer.connect()
        for n in range(6):
            producer.send(f"SEND\ndestination:/topic/a\n\n{n}\0".encode())
        frames = []
        while True:
            try:
                frames.append(client.next_frame())
            except EOFError:
                break
        assert frames[-1].get("message") == "slow consumer"
        producer.send(b"SEND\ndestination:/topic/a\nreceipt:done\n\nlast\0")
        assert producer.next_frame().get("receipt-id") == "done"
        time.sleep(0.2)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
