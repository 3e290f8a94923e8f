"""stomp.py resumes a retained topic on a stompbox broker (issue 17): the headers are
plain STOMP, so any client can use them."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import stomp

from stompbox.broker import BrokerConfig
from stompbox.server import ServerConfig, start_server


class Collected(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self, count: int) -> None:
        self.frames: list[Any] = []
        self.count = count
        self.done = threading.Event()

    def on_message(self, frame: Any) -> None:
        self.frames.append(frame)
        if len(self.frames) >= self.count:
            self.done.set()


def receive(port: int, count: int, **headers: str) -> list[Any]:
    """Subscribe with stomp.py (with ``headers``) and return the first ``count``
    messages that arrive."""
    listener = Collected(count)
    conn = stomp.Connection12([("127.0.0.1", port)])
    conn.set_listener("", listener)
    conn.connect("guest", "guest", wait=True)
    conn.subscribe("/topic/chat", id="s", headers=headers)
    listener.done.wait(10)
    conn.disconnect()
    return listener.frames


def send(port: int, *bodies: str) -> None:
    conn = stomp.Connection12([("127.0.0.1", port)])
    conn.connect("guest", "guest", wait=True)
    for body in bodies:
        conn.send("/topic/chat", body, headers={"receipt": body})
    conn.disconnect(receipt="bye")


def test_stomp_py_subscriber_resumes_after_its_last_position() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=0, broker=BrokerConfig(retain_topics=["/topic/*"]))
        async with start_server(config) as server:
            port = server.port
            await asyncio.to_thread(send, port, "1", "2", "3")
            everything = await asyncio.to_thread(receive, port, 3, since="0")
            assert [f.body for f in everything] == ["1", "2", "3"]
            assert everything[0].headers["stompbox-resume"] == "ok"
            seqs = [f.headers["stompbox-seq"] for f in everything]
            rest = await asyncio.to_thread(receive, port, 2, **{"resume-from": seqs[0]})
            assert [f.body for f in rest] == ["2", "3"]
            assert [f.headers["stompbox-seq"] for f in rest] == seqs[1:]

    asyncio.run(asyncio.wait_for(main(), 30))
