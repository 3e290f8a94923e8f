"""A handler's return value answers a request's ``reply-to`` (issue 17): the stompbox
client's ``request`` and stomp.py's ``reply-to:/temp-queue/x`` against app handlers."""

from __future__ import annotations

import asyncio
import queue
from typing import Any

import stomp

from stompbox.app import StompApp, send_to
from stompbox.app.users import PRIVATE_MARKER
from stompbox.client.requests import REPLY_QUEUE
from stompbox.security import allow

from ..support import run
from .helpers import serving


def calculator() -> StompApp:
    app = StompApp()

    @app.message("/double")
    @send_to("/topic/doubled")
    def double(payload: int) -> int:
        return payload * 2

    return app


def test_request_to_a_handler_gets_its_return_value(transport: str) -> None:
    async def main() -> None:
        async with serving(calculator(), transport) as connect, connect() as client:
            reply = await client.request("/app/double", 21, timeout=5)
            assert reply.json() == 42
            assert reply.headers["correlation-id"]
            assert reply.headers["subscription"] == REPLY_QUEUE
            answers = await asyncio.gather(
                *(client.request("/app/double", n, timeout=5) for n in range(5))
            )
            assert [a.json() for a in answers] == [0, 2, 4, 6, 8]

    run(main())


def test_reply_to_wins_over_send_to(transport: str) -> None:
    async def main() -> None:
        async with (
            serving(calculator(), transport) as connect,
            connect() as client,
            client.subscribe("/topic/doubled") as doubled,
        ):
            assert (await client.request("/app/double", 1, timeout=5)).json() == 2
            await client.send("/app/double", 5, receipt=True)  # no reply-to: @send_to
            assert (await doubled.get(5)).json() == 10  # and not the request's 2

    run(main())


class Requester(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self, port: int) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()
        self.conn = stomp.Connection12([("127.0.0.1", port)])
        self.conn.set_listener("", self)
        self.conn.connect("guest", "guest", wait=True)

    def on_message(self, frame: Any) -> None:
        self.messages.put(frame)


def test_a_stomppy_request_with_a_temp_queue_reply_to() -> None:
    async def main() -> None:
        async with serving(calculator(), "tcp") as connect:
            async with connect() as probe:
                port = int(probe.url.port)
            requester = await asyncio.to_thread(Requester, port)
            requester.conn.send(
                "/app/double",
                "4",
                headers={"reply-to": "/temp-queue/calc", "correlation-id": "abc"},
            )
            reply = await asyncio.to_thread(requester.messages.get, True, 5)
            assert reply.body == "8"
            assert reply.headers["subscription"] == "/temp-queue/calc"
            assert reply.headers["correlation-id"] == "abc"
            await asyncio.to_thread(requester.conn.disconnect)

    run(main())


def test_reply_to_another_connections_private_destination_is_refused(transport: str) -> None:
    async def main() -> None:
        async with (
            serving(calculator(), transport) as connect,
            connect() as victim,
            victim.subscribe("/user/queue/inbox") as inbox,
            connect() as client,
            client.subscribe("/user/queue/errors") as errors,
        ):
            private = f"/queue/inbox{PRIVATE_MARKER}{victim.session}"
            await client.send("/app/double", 1, headers={"reply-to": private})
            report = await errors.get(5)
            assert report.headers["message"] == "access denied"
            assert private in report.text  # refused before anything was published
            assert inbox.id  # the victim's subscription made the name private

    run(main())


def test_access_rules_bind_reply_to_but_not_the_senders_own_queue(transport: str) -> None:
    """A client allowed to send to /app/** only still gets the replies to its requests
    (its temporary queue is its own), but cannot have a handler send where it may not."""
    app = StompApp(
        acl=[
            allow("any", "send", "/app/**"),
            allow("any", "subscribe", "/user/queue/errors"),
        ]
    )

    @app.message("/double")
    def double(payload: int) -> int:
        return payload * 2

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as client,
            client.subscribe("/user/queue/errors") as errors,
        ):
            assert (await client.request("/app/double", 4, timeout=5)).json() == 8
            await client.send("/app/double", 1, headers={"reply-to": "/topic/elsewhere"})
            report = await errors.get(5)
            assert report.headers["message"] == "access denied"
            assert "/topic/elsewhere" in report.text

    run(main())
