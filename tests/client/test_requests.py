"""``Client.request``: request/reply over a temporary queue, against a stomp.py responder
on a real server (issue 17)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stomp

import stompbox
from stompbox.broker import Broker
from stompbox.client.requests import REPLY_QUEUE
from stompbox.server import ServerConfig, TcpServer, start_server

from ..support import free_port, run


class Responder(stomp.ConnectionListener):  # type: ignore[misc]
    """A stomp.py client on /queue/rpc that answers each request to its ``reply-to``
    with the body upper-cased, copying ``correlation-id`` (unless told to hold it)."""

    def __init__(self, port: int) -> None:
        self.conn = stomp.Connection12([("127.0.0.1", port)])
        self.conn.set_listener("", self)
        self.ready = threading.Event()
        self.held: list[Any] = []
        self.hold = False
        self.conn.connect("guest", "guest", wait=True)
        self.conn.subscribe("/queue/rpc", id="rpc", receipt="ready")
        assert self.ready.wait(5)

    def on_receipt(self, frame: Any) -> None:
        self.ready.set()

    def on_message(self, frame: Any) -> None:
        if self.hold:
            self.held.append(frame)
            return
        self.answer(frame)

    def answer(self, frame: Any) -> None:
        headers = {"correlation-id": frame.headers.get("correlation-id", "")}
        self.conn.send(frame.headers["reply-to"], frame.body.upper(), headers=headers)


@contextlib.asynccontextmanager
async def responding(port: int) -> AsyncIterator[Responder]:
    """A responder, made and ended in a thread: stomp.py blocks, and the server runs in
    this event loop."""
    responder = await asyncio.to_thread(Responder, port)
    try:
        yield responder
    finally:
        await asyncio.to_thread(responder.conn.disconnect)


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[TcpServer]:
    async with start_server(ServerConfig(port=0, ws_port=0)) as running:
        yield running


def url(srv: TcpServer) -> str:
    return f"stomp://guest:guest@127.0.0.1:{srv.port}/"


def test_request_gets_the_reply_of_a_stomppy_responder() -> None:
    async def main() -> None:
        async with serving() as srv, stompbox.connect(url(srv)) as client:
            async with responding(srv.port):
                reply = await client.request("/queue/rpc", "ping", timeout=5)
                assert reply.text == "PING"
                assert reply.headers["subscription"] == REPLY_QUEUE
                answers = await asyncio.gather(
                    *(client.request("/queue/rpc", f"n{i}", timeout=5) for i in range(10))
                )
                assert [a.text for a in answers] == [f"N{i}" for i in range(10)]
            # one temporary queue and one subscription, however many requests
            [session] = srv.broker.sessions.values()
            assert list(session.subscriptions) == [REPLY_QUEUE]

    run(main())


def test_no_reply_times_out_naming_the_destination() -> None:
    async def main() -> None:
        async with serving() as srv, stompbox.connect(url(srv)) as client:
            with pytest.raises(TimeoutError, match=r"/queue/nobody within 0\.2 s"):
                await client.request("/queue/nobody", "anyone?", timeout=0.2)
            assert len(client._requests) == 0

    run(main())


def test_a_late_reply_is_dropped() -> None:
    async def main() -> None:
        async with (
            serving() as srv,
            stompbox.connect(url(srv)) as client,
            responding(srv.port) as responder,
        ):
            responder.hold = True
            with pytest.raises(TimeoutError):
                await client.request("/queue/rpc", "late", timeout=0.3)
            responder.hold = False
            [late] = responder.held
            await asyncio.to_thread(responder.answer, late)  # after its request gave up
            reply = await client.request("/queue/rpc", "next", timeout=5)
            assert reply.text == "NEXT"

    run(main())


def test_request_headers_may_not_name_reply_to() -> None:
    async def main() -> None:
        async with serving() as srv, stompbox.connect(url(srv)) as client:
            with pytest.raises(ValueError, match="reply-to and correlation-id"):
                await client.request("/queue/rpc", "x", headers={"reply-to": "/queue/mine"})

    run(main())


def test_request_works_after_a_reconnection() -> None:
    async def main() -> None:
        port = free_port()
        config = ServerConfig(port=port, ws_port=0)
        first = TcpServer(Broker(), config)
        await first.start()
        client = stompbox.connect(f"stomp://127.0.0.1:{port}/", reconnect=True, backoff=(0.05, 0.2))
        await client.open()
        try:
            async with responding(port):
                assert (await client.request("/queue/rpc", "one", timeout=5)).text == "ONE"
            await first.stop()  # the server goes away with the client's temporary queue
            second = TcpServer(Broker(), config)
            await second.start()
            try:
                for _ in range(200):  # the client comes back on its own
                    if second.broker.sessions:
                        break
                    await asyncio.sleep(0.05)
                async with responding(port):
                    reply = await client.request("/queue/rpc", "two", timeout=10)
                    assert reply.text == "TWO"
            finally:
                await client.close()
                await second.stop()
        finally:
            await client.close()

    run(main())


def test_a_lost_connection_fails_the_waiting_request() -> None:
    async def main() -> None:
        async with serving() as srv:
            client = stompbox.connect(url(srv))
            await client.open()
            async with responding(srv.port) as responder:
                responder.hold = True
                waiting = asyncio.create_task(client.request("/queue/rpc", "x", timeout=10))
                while not responder.held:
                    await asyncio.sleep(0.01)
                for session in list(srv.broker.sessions.values()):
                    if session.subscriptions.get(REPLY_QUEUE) is not None:
                        session.sink.fail("test", "the broker drops this connection")
                with pytest.raises(stompbox.client.StompError):
                    await waiting
            await client.close()

    run(main())
