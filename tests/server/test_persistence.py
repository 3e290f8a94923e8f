"""Persistent messages through a real ``stompbox serve``, killed with SIGKILL and restarted
on the same store: what a RECEIPT promises, and what comes back redelivered; and the
output scheduler's order, commit first, which makes the RECEIPT's promise true."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stompbox.broker import Broker, BrokerConfig
from stompbox.broker.store import MessageStore
from stompbox.server import ServerConfig
from stompbox.server.output import OutputScheduler
from stompbox.server.registry import SessionRegistry

from ..support import free_port, run, stompbox
from .helpers import RawClient
from .serve_process import Served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path, "queue_max_messages = 10\n")
    yield server.start()
    server.kill()


def persistent_send(body: str, receipt: str) -> bytes:
    return f"SEND\ndestination:/queue/q\npersistent:true\nreceipt:{receipt}\n\n{body}\0".encode()


def drain(port: int, ack: str = "auto") -> list[tuple[str, str | None, str | None]]:
    """Subscribe and take every message there is: (body, redelivered, redelivery-count)."""
    client = RawClient(port)
    client.connect()
    client.send(f"SUBSCRIBE\nid:0\ndestination:/queue/q\nack:{ack}\n\n\0".encode())
    got: list[tuple[str, str | None, str | None]] = []
    while True:
        try:
            frame = client.next_frame(timeout=0.5)
        except TimeoutError:
            return got
        assert frame.command == "MESSAGE", frame
        got.append((frame.body.decode(), frame.get("redelivered"), frame.get("redelivery-count")))


def test_receipted_messages_survive_kill_9_and_refused_ones_never_come_back(
    served: Served,
) -> None:
    producer = RawClient(served.port)
    producer.connect()
    producer.send(b"".join(persistent_send(f"kept {n}", str(n)) for n in range(10)))
    assert [producer.next_frame().get("receipt-id") for _ in range(10)] == [
        str(n) for n in range(10)
    ]
    for n in range(10):  # the queue is full: each is refused, and its connection closed
        refused = RawClient(served.port)
        refused.connect()
        refused.send(persistent_send(f"refused {n}", "r"))
        error = refused.next_frame()
        assert (error.command, error.get("message")) == ("ERROR", "queue full")
    served.kill()
    served.start()
    assert drain(served.port) == [(f"kept {n}", None, None) for n in range(10)]
    served.kill()
    served.start()
    assert drain(served.port) == []  # consumed by an auto subscriber: gone for good


def test_delivered_unacked_messages_come_back_redelivered_after_kill_9(served: Served) -> None:
    producer = RawClient(served.port)
    producer.connect()
    bodies = ("acked", "held", "next", "waiting")
    producer.send(b"".join(persistent_send(body, body) for body in bodies))
    assert [producer.next_frame().command for _ in bodies] == ["RECEIPT"] * 4
    consumer = RawClient(served.port)
    consumer.connect()
    consumer.send(b"SUBSCRIBE\nid:0\ndestination:/queue/q\nack:client-individual\n")
    consumer.send(b"prefetch-count:2\n\n\0")
    first, second = consumer.next_frame(), consumer.next_frame()
    assert (first.body, second.body) == (b"acked", b"held")
    consumer.send(f"ACK\nid:{first.get('ack')}\nreceipt:a\n\n\0".encode())
    third = consumer.next_frame()  # the ACK made room for one more
    assert (third.command, third.body) == ("MESSAGE", b"next")
    assert consumer.next_frame().get("receipt-id") == "a"  # the ACK is on disk too
    served.kill()
    served.start()
    assert drain(served.port, "client-individual") == [
        ("held", "true", "1"),
        ("next", "true", "1"),
        ("waiting", None, None),
    ]
    served.kill()  # all handed out again and not acked: one more attempt each
    served.start()
    assert drain(served.port) == [
        ("held", "true", "2"),
        ("next", "true", "2"),
        ("waiting", "true", "1"),
    ]


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("random-bytes.db", "file is not a database"),
        ("missing/messages.db", "unable to open database file"),
    ],
)
def test_a_store_that_cannot_be_used_stops_serve_with_its_path_and_why(
    tmp_path: Path, where: str, reason: str
) -> None:
    store = tmp_path / where
    if where == "random-bytes.db":
        store.write_bytes(os.urandom(8192))
    config = tmp_path / "stompbox.toml"
    config.write_text(f'[server]\nport = {free_port()}\nws_port = 0\n[broker]\nstore = "{store}"\n')
    done = subprocess.run(
        stompbox("serve", "--config", str(config)), capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 1
    assert f"stompbox serve: message store {store}: cannot open: {reason}" in done.stderr
    assert "Traceback" not in done.stderr


def test_output_waits_for_its_commit_and_for_a_failed_one_to_succeed(tmp_path: Path) -> None:
    """The scheduler's order, with a real store whose file another connection locks
    (standing in for a full disk) during the first commit: nothing is written until the
    changes it depends on are on disk, and then in order."""
    path = tmp_path / "messages.db"
    store = MessageStore(path)
    events: list[str] = []

    def rows_on_disk() -> int:
        with contextlib.closing(sqlite3.connect(path, timeout=0)) as db:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    class Session:
        """Output depending on the messages stored before it was queued."""

        def __init__(self, name: str) -> None:
            self.name = name

        def take_output(self) -> str:
            return self.name

        def write_output(self, output: str) -> None:
            events.append(f"write {output} with {rows_on_disk()} on disk")

        def flush(self) -> None:
            self.write_output(self.take_output())

    async def main() -> None:
        output = OutputScheduler(store, retry=0.05)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        store.add("/queue/q", (), b"a")
        output.add(Session("a"))
        store.add("/queue/q", (), b"b")
        output.add(Session("b"))
        await asyncio.sleep(0.02)
        assert events == []  # the commit failed: nothing written
        locker.execute("ROLLBACK")
        locker.close()
        await asyncio.sleep(0.2)
        store.add("/queue/q", (), b"c")
        output.add(Session("c"))
        await asyncio.sleep(0.1)
        output.close()

    run(main())
    store.close()
    assert events == ["write a with 2 on disk", "write b with 2 on disk", "write c with 3 on disk"]


def test_a_disconnect_receipt_is_written_after_the_commit(tmp_path: Path) -> None:
    """A closing session writes its last output itself, outside the scheduler's run:
    it must commit first too, or a DISCONNECT's RECEIPT could promise SENDs not on disk."""
    store = tmp_path / "messages.db"
    writes: list[tuple[bytes, int]] = []

    def rows_on_disk() -> int:
        with contextlib.closing(sqlite3.connect(store)) as db:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    class Recorder:
        """A transport that notes, at each write, how many messages the file holds."""

        closing = False

        def write(self, data: bytes) -> None:
            writes.append((data, rows_on_disk()))

        def writelines(self, data: list[bytes]) -> None:
            self.write(b"".join(data))

        def get_write_buffer_size(self) -> int:
            return 0

        def close(self) -> None:
            self.closing = True

        def is_closing(self) -> bool:
            return self.closing

        def can_write_eof(self) -> bool:
            return False

        def write_eof(self) -> None:
            raise NotImplementedError

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    async def main() -> None:
        broker = Broker(BrokerConfig(store=str(store)))
        registry = SessionRegistry(broker, ServerConfig(port=0, ws_port=0))
        session = registry.open(Recorder(), "recorder")
        session.data_received(b"CONNECT\naccept-version:1.2\nhost:x\n\n\0")
        await asyncio.sleep(0.01)
        sends = b"".join(
            f"SEND\ndestination:/queue/q\npersistent:true\n\n{n}\0".encode() for n in range(5)
        )
        session.data_received(sends + b"DISCONNECT\nreceipt:bye\n\n\0")
        await asyncio.sleep(0.01)
        broker.close()

    run(main())
    [(_, rows)] = [(data, rows) for data, rows in writes if b"receipt-id:bye" in data]
    assert rows == 5
