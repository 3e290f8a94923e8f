"""The application framework, through in-process test clients and real WebSockets."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

import stompbox
from stompbox.app import (
    AccessDenied,
    Credentials,
    FrameRejected,
    MessageRoute,
    Reply,
    SessionEvent,
    StompApp,
    TestClient,
    send_to,
    send_to_user,
)
from stompbox.protocol import Frame
from stompbox.server import ServerConfig
from stompbox.server.session import ServerSession

from ..support import free_port, run
from .helpers import serving


@dataclass
class Hello:
    name: str


class Position(pydantic.BaseModel):
    ticker: str
    shares: int


def greeting_app(*, trust_login: bool = False) -> StompApp:
    app = StompApp(trust_login=trust_login)

    @app.message("/hello")
    async def hello(payload: Hello) -> dict[str, str]:
        return {"content": f"Hello, {payload.name}!"}

    return app


def test_default_reply_goes_to_the_broker_prefix_and_same_path(transport: str) -> None:
    app = greeting_app()

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as client,
            client.subscribe("/topic/hello") as sub,
        ):
            await client.send("/app/hello", {"name": "Ada"}, receipt=True)
            message = await sub.get(5)
            assert message.json() == {"content": "Hello, Ada!"}
            assert message.headers["content-type"] == "application/json"

    run(main())


def test_patterns_variables_and_separators(transport: str) -> None:
    app = StompApp()
    seen: list[Any] = []

    @app.message("/chat/{room}")
    @send_to("/topic/chat/{room}")
    def chat(room: str, payload: str) -> str:
        return f"{room}: {payload}"

    @app.message("/orders/{order_id}/items/*")
    def item(order_id: int, destination: str) -> None:
        seen.append((order_id, destination))

    @app.message("/deep/**")
    def deep(destination: str) -> None:
        seen.append(destination)

    dotted = StompApp(separator=".", broker_prefixes=("/topic", "/queue"))

    @dotted.message("price.stock.{ticker}")
    @send_to("/topic/price.{ticker}")
    def price(ticker: str, payload: float) -> float:
        return payload * 2

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            serving(dotted, transport) as connect_dotted,
            connect() as client,
            client.subscribe("/topic/chat/lobby") as sub,
        ):
            await client.send("/app/chat/lobby", "hi", receipt=True)
            assert (await sub.get(5)).text == "lobby: hi"
            await client.send("/app/orders/42/items/x", b"", receipt=True)
            await client.send("/app/deep/a/b/c", b"", receipt=True)
            assert seen == [(42, "/app/orders/42/items/x"), "/app/deep/a/b/c"]
            async with client.subscribe("/user/queue/errors") as errors:
                await client.send("/app/orders/x/items/y/z", b"")
                assert (await errors.get(5)).headers["message"] == "no handler"
            async with connect_dotted() as client, client.subscribe("/topic/price.ibm") as sub:
                await client.send("/app/price.stock.ibm", 21.0, receipt=True)
                assert (await sub.get(5)).json() == 42.0

    run(main())


def test_injection_by_name_and_annotation(transport: str) -> None:
    app = StompApp(trust_login=True)  # names from CONNECT's login
    captured: dict[str, Any] = {}

    @app.message("/trade/{account}")
    def trade(
        account: str,
        payload: Position,
        headers: dict[str, str],
        connection: ServerSession,
        principal: str,
        frame: Frame,
    ) -> None:
        captured.update(
            account=account,
            payload=payload,
            trace=headers.get("x-trace"),
            session=connection,
            principal=principal,
            command=frame.command,
        )

    async def main() -> None:
        async with serving(app, transport) as connect, connect(login="alice") as client:
            await client.send(
                "/app/trade/acc-1",
                {"ticker": "IBM", "shares": 10},
                headers={"x-trace": "t-9"},
                receipt=True,
            )
            assert captured["account"] == "acc-1"
            assert captured["payload"] == Position(ticker="IBM", shares=10)
            assert captured["trace"] == "t-9"
            assert isinstance(captured["session"], ServerSession)
            assert captured["principal"] == "alice"
            assert captured["command"] == "SEND"

    run(main())


def test_payload_that_does_not_convert_is_reported_and_the_session_goes_on(
    transport: str,
) -> None:
    app = greeting_app()

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as client,
            client.subscribe("/user/queue/errors") as errors,
            client.subscribe("/topic/hello") as hello,
        ):
            await client.send("/app/hello", {"nom": "x"}, headers={"receipt": "r-1"})
            error = await errors.get(5)
            assert error.headers["message"] == "invalid payload"
            assert error.headers["receipt-id"] == "r-1"
            assert error.headers["source-destination"] == "/app/hello"
            assert "Hello has no field(s) nom" in error.text
            await client.send("/app/hello", b"{oops", content_type="application/json")
            assert "not valid JSON" in (await errors.get(5)).text
            await client.send("/app/hello", {"name": "Ada"}, receipt=True)  # still open
            assert (await hello.get(5)).json() == {"content": "Hello, Ada!"}

    run(main())


def test_strict_errors_close_the_session(transport: str) -> None:
    app = StompApp(strict_errors=True)

    @app.message("/hello")
    def hello(payload: Hello) -> None: ...

    async def main() -> None:
        async with serving(app, transport) as connect, connect() as client:
            with pytest.raises(stompbox.BrokerErrorFrame) as info:
                await client.send("/app/hello", {"nom": "x"}, receipt=True)
            assert info.value.message == "invalid payload"

    run(main())


def test_send_to_and_send_to_user_both_deliver(transport: str) -> None:
    app = StompApp()

    @app.message("/both")
    @send_to("/topic/a", "/topic/b")
    @send_to_user("/queue/mine", broadcast=False)
    def both(payload: str) -> str:
        return payload.upper()

    app.router.add(MessageRoute("/routed", lambda payload: payload, reply=Reply(("/topic/a",))))

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as client,
            client.subscribe("/topic/a") as a,
            client.subscribe("/topic/b") as b,
            client.subscribe("/user/queue/mine") as mine,
        ):
            await client.send("/app/both", "x", receipt=True)
            assert [(await s.get(5)).text for s in (a, b, mine)] == ["X", "X", "X"]
            await client.send("/app/routed", "data", receipt=True)  # MessageRoute(reply=...)
            assert (await a.get(5)).text == "data"

    run(main())


def test_signature_problems_are_found_at_registration() -> None:
    app = StompApp()
    with pytest.raises(TypeError, match="cannot tell what to pass as 'mystery'"):

        @app.message("/x")
        def handler(payload: str, mystery: int) -> None: ...


def test_send_to_user_reaches_every_session_of_that_user_only(transport: str) -> None:
    app = StompApp(trust_login=True)  # names from CONNECT's login

    @app.message("/whisper")
    @send_to_user("/queue/whispers")
    def whisper(payload: str) -> str:
        return payload.upper()

    @app.message("/note")
    @send_to_user("/queue/notes", broadcast=False)
    def note(payload: str) -> str:
        return payload

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(login="alice") as a1,
            connect(login="alice") as a2,
            connect(login="bob") as b,
            a1.subscribe("/user/queue/whispers") as w1,
            a2.subscribe("/user/queue/whispers") as w2,
            b.subscribe("/user/queue/whispers") as wb,
            a1.subscribe("/user/queue/notes") as n1,
            a2.subscribe("/user/queue/notes") as n2,
        ):
            assert app.users() == {"alice": 2, "bob": 1}
            await a1.send("/app/whisper", "psst", receipt=True)
            assert (await w1.get(5)).text == "PSST"
            assert (await w2.get(5)).text == "PSST"
            with pytest.raises(TimeoutError):
                await wb.get(0.2)
            await a2.send("/app/note", "mine", receipt=True)
            assert (await n2.get(5)).text == "mine"
            with pytest.raises(TimeoutError):
                await n1.get(0.2)
            # the messaging template, and a client sending to another user
            await app.send_to_user("bob", "/queue/whispers", {"from": "server"})
            assert (await wb.get(5)).json() == {"from": "server"}
            await a1.send("/user/bob/queue/whispers", "direct", receipt=True)
            assert (await wb.get(5)).text == "direct"

    run(main())


def test_subscribe_handler_answers_the_subscriber_only(transport: str) -> None:
    app = StompApp(trust_login=True)  # names from CONNECT's login

    @app.subscribe("/rooms")
    def rooms(principal: str) -> list[str]:
        return ["lobby", f"{principal}-private"]

    async def main() -> None:
        async with serving(app, transport) as connect:
            async with (
                connect(login="ann") as client,
                connect() as other,
                other.subscribe("/topic/rooms") as broker_side,
                client.subscribe("/app/rooms") as sub,
            ):
                answer = await sub.get(5)
                assert answer.json() == ["lobby", "ann-private"]
                assert answer.destination == "/app/rooms"
                with pytest.raises(TimeoutError):
                    await broker_side.get(0.2)
                with pytest.raises(TimeoutError):
                    await sub.get(0.2)  # answered once
            assert app.broker.sessions == {}

    run(main())


def test_exception_handlers_reply_like_handlers(transport: str) -> None:
    app = StompApp()

    @app.message("/divide")
    def divide(payload: list[int]) -> float:
        return payload[0] / payload[1]

    @app.exception_handler(ZeroDivisionError)
    @send_to_user("/queue/errors")
    def on_zero(exc: ZeroDivisionError, destination: str) -> dict[str, str]:
        return {"error": str(exc), "destination": destination}

    @app.message("/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as client,
            client.subscribe("/user/queue/errors") as errors,
        ):
            await client.send("/app/divide", [1, 0], receipt=True)
            assert (await errors.get(5)).json() == {
                "error": "division by zero",
                "destination": "/app/divide",
            }
            await client.send("/app/boom", b"")  # no exception handler: reported, goes on
            error = await errors.get(5)
            assert error.headers["message"] == "application error"
            assert error.text == "RuntimeError: unexpected"
            await client.send("/app/divide", [4, 2], receipt=True)

    run(main())


def test_template_from_an_http_route(transport: str) -> None:
    app = greeting_app()

    async def publish(request: Request) -> JSONResponse:
        await app.send("/topic/greetings", {"content": "from HTTP"})
        return JSONResponse({"ok": True})

    web = Starlette(routes=[Route("/publish", publish, methods=["POST"])])

    async def main() -> None:
        async with serving(app, transport) as connect:
            import httpx

            async with connect() as client, client.subscribe("/topic/greetings") as sub:
                asgi = httpx.ASGITransport(app=web)
                async with httpx.AsyncClient(transport=asgi, base_url="http://t") as http:
                    assert (await http.post("/publish")).json() == {"ok": True}
                assert (await sub.get(5)).json() == {"content": "from HTTP"}

    run(main())


def test_authentication(transport: str) -> None:
    def authenticate(credentials: Credentials) -> str | None:
        if credentials.login is None:
            return None
        if credentials.passcode != "secret":
            raise AccessDenied("bad passcode")
        return credentials.login

    app = StompApp(authenticate=authenticate, require_auth=True)

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(login="alice", passcode="secret") as client,
        ):
            assert client.session
            with pytest.raises(stompbox.ConnectFailed, match="bad passcode"):
                await connect(login="alice", passcode="nope").__aenter__()
            with pytest.raises(stompbox.ConnectFailed, match="authentication required"):
                await connect().__aenter__()

    run(main())


def test_principal_from_the_websocket_handshake() -> None:
    tokens = {"t-123": "carol"}

    def authenticate(credentials: Credentials) -> str | None:
        scope = credentials.handshake or {}
        query = scope.get("query_string", b"").decode()
        token = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("token")
        headers = dict(scope.get("headers", []))
        token = token or headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
        return tokens.get(token or "")

    app = StompApp(authenticate=authenticate, require_auth=True)

    @app.message("/whoami")
    @send_to_user("/queue/me")
    def whoami(principal: str) -> str:
        return principal

    web = Starlette(routes=[WebSocketRoute("/stomp", app.asgi)])

    async def main() -> None:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(web, port=port, log_level="warning", ws="websockets-sansio")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        try:
            url = f"ws://127.0.0.1:{port}/stomp"
            async with (
                stompbox.connect(url + "?token=t-123") as client,
                client.subscribe("/user/queue/me") as me,
            ):
                await client.send("/app/whoami", b"", receipt=True)
                assert (await me.get(5)).text == "carol"
            with pytest.raises(stompbox.ConnectFailed, match="authentication required"):
                await stompbox.connect(url + "?token=wrong").open()
        finally:
            server.should_exit = True
            await task

    run(main())


def test_session_events(transport: str) -> None:
    app = StompApp()
    events: list[tuple[str, str | None]] = []

    @app.on("connect")
    @app.on("connected")
    @app.on("subscribe")
    @app.on("unsubscribe")
    @app.on("disconnect")
    def record(event: SessionEvent) -> None:
        destination = event.frame.get("destination") if event.frame else None
        events.append((event.kind, destination))

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(login="dan") as client,
            client.subscribe("/topic/x"),
        ):
            pass
            await asyncio.sleep(0.05)

    run(main())
    assert [kind for kind, _ in events] == [
        "connect",
        "connected",
        "subscribe",
        "unsubscribe",
        "disconnect",
    ]
    assert ("subscribe", "/topic/x") in events


def test_interceptors_change_and_reject(transport: str) -> None:
    app = greeting_app(trust_login=True)

    @app.inbound_interceptor
    def stamp(frame: Frame, session: ServerSession) -> Frame | None:
        if frame.command == "SEND" and frame.get("destination") == "/topic/forbidden":
            raise FrameRejected("forbidden", "nobody sends there")
        if frame.command == "SEND" and frame.get("destination") == "/topic/drop":
            return None
        if frame.command == "SEND":
            return frame.with_headers([("x-user", str(session.principal))])
        return frame

    @app.outbound_interceptor
    def tag(frame: Frame, session: ServerSession) -> Frame | None:
        if frame.command == "MESSAGE" and frame.get("destination") == "/topic/secret":
            return None
        if frame.command == "MESSAGE":
            return frame.with_headers([("x-app", "greeting"), ("x-to", str(session.principal))])
        return frame

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(login="eve") as client,
            client.subscribe("/topic/news") as news,
            client.subscribe("/topic/hello") as hello,
        ):
            await client.send("/topic/news", "plain", receipt=True)
            assert (await news.get(5)).headers["x-user"] == "eve"
            await client.send("/app/hello", {"name": "Eve"}, receipt=True)
            greeting = await hello.get(5)
            assert greeting.headers["x-app"] == "greeting"
            assert greeting.headers["x-to"] == "eve"
            async with client.subscribe("/topic/secret") as secret:
                await client.send("/topic/secret", "hidden", receipt=True)
                with pytest.raises(TimeoutError):
                    await secret.get(0.2)
            await client.send("/topic/drop", "gone")
            with pytest.raises(stompbox.BrokerErrorFrame, match="forbidden"):
                await client.send("/topic/forbidden", "x", receipt=True)

    run(main())


def test_per_session_order_with_slow_async_handlers(transport: str) -> None:
    app = StompApp()

    @app.message("/step")
    async def step(payload: int) -> int:
        await asyncio.sleep(random.random() / 100)
        return payload

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as client,
            client.subscribe("/topic/step") as sub,
        ):
            for i in range(50):
                await client.send("/app/step", i)
            assert [(await sub.get(5)).json() for _ in range(50)] == list(range(50))

    run(main())


def test_two_apps_in_one_process_are_independent(transport: str) -> None:
    first, second = greeting_app(), StompApp(app_prefixes=("/svc",))

    @second.message("/hello")
    def other(payload: Hello) -> dict[str, str]:
        return {"content": f"Other {payload.name}"}

    async def main() -> None:
        async with (
            serving(first, transport) as connect_first,
            serving(second, transport) as connect_second,
        ):
            async with (
                connect_first() as a,
                connect_second() as b,
                a.subscribe("/topic/hello") as sa,
                b.subscribe("/topic/hello") as sb,
            ):
                await b.send("/svc/hello", {"name": "B"}, receipt=True)
                assert (await sb.get(5)).json() == {"content": "Other B"}
                with pytest.raises(TimeoutError):
                    await sa.get(0.2)
                with pytest.raises(stompbox.BrokerErrorFrame, match="unknown destination"):
                    await a.send("/svc/hello", {"name": "A"}, receipt=True)
            assert first.broker is not second.broker

    run(main())


def test_app_over_tcp_and_websocket_servers() -> None:
    app = greeting_app()

    async def main() -> None:
        ws_port = free_port()
        async with (
            app.serve_tcp(port=0, ws_port=ws_port) as server,
            stompbox.connect(f"ws://127.0.0.1:{ws_port}/ws") as browser,
            stompbox.connect(f"stomp://127.0.0.1:{server.port}/") as script,
            browser.subscribe("/topic/hello") as sub,
        ):
            await script.send("/app/hello", {"name": "TCP"}, receipt=True)
            assert (await sub.get(5)).json() == {"content": "Hello, TCP!"}

    run(main())


@pytest.fixture
def stomp_app() -> StompApp:
    return greeting_app()


def test_pytest_plugin_fixture(stomp_client: Any) -> None:
    async def main() -> None:
        async with stomp_client(login="zoe") as client, client.subscribe("/topic/hello") as sub:
            await client.send("/app/hello", {"name": "Zoe"})
            assert (await sub.get(5)).json() == {"content": "Hello, Zoe!"}

    run(main())


def test_config_is_not_shared() -> None:
    config = ServerConfig(port=0, ws_port=0)
    app = StompApp(config=config, broker_prefixes={"/exchange": "topic", "/queue": "queue"})
    assert set(app.broker.config.prefixes) == {"/exchange/", "/queue/"}


def test_a_failing_hook_ends_only_that_session(transport: str) -> None:
    app = greeting_app()

    @app.inbound_interceptor
    def buggy(frame: Frame, session: ServerSession) -> Frame | None:
        if frame.get("destination") == "/topic/bug":
            raise KeyError("oops")
        return frame

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as good,
            good.subscribe("/topic/fine") as sub,
        ):
            async with connect() as bad:
                with pytest.raises(stompbox.BrokerErrorFrame, match="internal error"):
                    await bad.send("/topic/bug", "x", receipt=True)
            await good.send("/topic/fine", "still fine", receipt=True)
            assert (await sub.get(5)).text == "still fine"

    run(main())


def test_interceptors_see_connect_and_disconnect(transport: str) -> None:
    app = StompApp()
    seen: list[str] = []

    @app.inbound_interceptor
    def record(frame: Frame, session: ServerSession) -> Frame | None:
        seen.append(frame.command)
        return frame

    @app.on("connect")
    def connected(event: SessionEvent) -> None:
        seen.append(f"connect event, principal {event.principal}")

    async def main() -> None:
        async with serving(app, transport) as connect, connect() as client:
            await client.send("/topic/x", "hi", receipt=True)
        await asyncio.sleep(0.1)

    run(main())
    assert seen[:3] == ["CONNECT", "connect event, principal None", "SEND"]
    assert seen[-1] == "DISCONNECT"


def test_an_app_serves_one_event_loop_after_another() -> None:
    """Each pytest test runs in a loop of its own; a module-level app must serve them all."""
    app = greeting_app()

    async def once() -> None:
        async with TestClient(app) as client, client.subscribe("/topic/hello") as sub:
            await client.send("/app/hello", {"name": "Ada"}, receipt=True)
            assert (await sub.get(5)).json() == {"content": "Hello, Ada!"}

    run(once())
    run(once())
