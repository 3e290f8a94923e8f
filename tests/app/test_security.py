"""Issue 12 (security), from the application's side: who a session is, what its user
destinations let others do, and which SENDs and SUBSCRIBEs it may make.

Every test plays the attacker the issue describes (a second client that learned or
guessed a name, forged a header, or named itself at CONNECT) through the public client,
in process and over real WebSockets (the app's ``serve_tcp``, or Starlette under uvicorn
where the issue is about the ASGI scope), and checks that the victim loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

import stompbox
from stompbox.app import (
    AccessDenied,
    Credentials,
    FrameRejected,
    SessionEvent,
    StompApp,
    send_to,
    send_to_user,
)
from stompbox.client.transport import WebSocketStream
from stompbox.net import SUBPROTOCOLS
from stompbox.protocol import Frame
from stompbox.security import Principal, allow
from stompbox.server.session import ServerSession

from ..support import run
from .helpers import Connect, serving, under_uvicorn

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "mallory": "mallory-pw"}


def check_password(credentials: Credentials) -> str | None:
    """An application's authenticator: the login, if its passcode matches; None (an
    anonymous session) for no login."""
    if credentials.login is None:
        return None
    if PASSWORDS.get(credentials.login) != credentials.passcode:
        raise AccessDenied("bad login or passcode")
    return credentials.login


def login(name: str) -> dict[str, str]:
    return {"login": name, "passcode": PASSWORDS[name]}


async def silent(sub: stompbox.Subscription, wait: float = 0.2) -> list[str]:
    """What ``sub`` receives within ``wait`` seconds (the tests expect nothing)."""
    got = []
    with contextlib.suppress(TimeoutError):
        while True:
            got.append((await sub.get(wait)).text)
    return got


async def refused(
    connect: Connect, attempt: Callable[[stompbox.Client], Any], **options: Any
) -> stompbox.BrokerErrorFrame:
    """Make ``attempt`` on a new connection (an ERROR ends a STOMP connection) and return
    the ERROR it got."""
    async with connect(**options) as client:
        with pytest.raises(stompbox.BrokerErrorFrame) as info:
            await attempt(client)
    return info.value


def session_id_of(app: StompApp, user: str) -> str:
    """What an attacker who learned it knows: the session id of ``user``'s connection."""
    for session in app.registry.sessions:
        if session.identity is not None and session.identity.name == user:
            assert session.session is not None
            return session.session.id
    raise AssertionError(f"{user} is not connected")


# -- 1. the user-queue theft of the issue ----------------------------------------------


@pytest.mark.parametrize("transport", ["memory", "websocket", "tcp"])
def test_a_user_queue_cannot_be_taken_by_its_resolved_name(transport: str) -> None:
    app = StompApp(authenticate=check_password)  # anonymous clients are let in too

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(**login("alice")) as alice,
            alice.subscribe("/user/queue/private") as private,
        ):
            sid = session_id_of(app, "alice")
            assert alice.session == sid
            learned = f"/queue/private-user{sid}"
            assert app.broker.owner(learned) is not None, "the name behind it changed"

            def subscribe(name: str) -> Callable[[stompbox.Client], Any]:
                async def attempt(client: stompbox.Client) -> None:
                    async with client.subscribe(name):
                        pass

                return attempt

            async def send_there(client: stompbox.Client) -> None:
                await client.send(learned, "from the thief", receipt=True)

            async def send_at_commit(client: stompbox.Client) -> None:
                async with client.transaction() as tx:
                    await tx.send(learned, "from the thief", receipt=True)

            for thief in (login("bob"), {}):  # authenticated, and anonymous
                for attempt in (subscribe(learned), send_there, send_at_commit):
                    error = await refused(connect, attempt, **thief)
                    assert error.message == "access denied"
                    assert error.headers.get("receipt-id")
                # the user prefix is no way in either: it names the caller's own queues
                for name in ("/user/alice/queue/private", f"/user/{sid}/queue/private"):
                    error = await refused(connect, subscribe(name), **thief)
                    assert error.message == "invalid user destination"

            guessed = [
                "/queue/private-user1",  # sequential session ids
                "/queue/private-useralice",
                f"/queue/private-user{sid[:-1]}",
                "/queue/private",
            ]
            async with connect(**login("bob")) as bob, contextlib.AsyncExitStack() as stack:
                guesses = [await stack.enter_async_context(bob.subscribe(g)) for g in guessed]
                for i in range(4):
                    await app.send_to_user("alice", "/queue/private", f"secret {i}")
                # the issue: the thief took 2 of 4
                assert [(await private.get(5)).text for _ in range(4)] == [
                    f"secret {i}" for i in range(4)
                ]
                for guess in guesses:
                    assert await silent(guess) == []
            assert await silent(private) == []  # and nothing the thief sent

    run(main())


def test_a_user_topic_is_not_seen_through_a_wildcard(transport: str) -> None:
    app = StompApp(authenticate=check_password)

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(**login("bob")) as bob,
            bob.subscribe("/topic/**") as everything,
            bob.subscribe("/topic/*") as one_level,
            connect(**login("alice")) as alice,
            alice.subscribe("/user/topic/news") as news,
        ):
            sid = session_id_of(app, "alice")
            resolved = f"/topic/news-user{sid}"
            assert app.broker.owner(resolved) is not None, "the name behind it changed"

            async def subscribe(client: stompbox.Client) -> None:
                async with client.subscribe(resolved):
                    pass

            error = await refused(connect, subscribe, **login("mallory"))
            assert error.message == "access denied"

            for i in range(4):
                await app.send_to_user("alice", "/topic/news", f"for alice {i}")
            for i in range(4):
                message = await news.get(5)
                assert (message.text, message.destination) == (f"for alice {i}", "/user/topic/news")
            await app.send("/topic/news", "public")  # the wildcards do match, elsewhere
            assert (await everything.get(5)).text == "public"
            assert (await one_level.get(5)).text == "public"
            assert await silent(everything) == []
            assert await silent(one_level) == []

    run(main())


def test_a_user_destination_is_private_before_its_owner_subscribes(transport: str) -> None:
    app = StompApp(authenticate=check_password)

    async def main() -> None:
        async with serving(app, transport) as connect, connect(**login("alice")) as alice:
            sid = session_id_of(app, "alice")
            # names alice will use, and one she never does: all hers from her CONNECT on
            for name in ("/queue/private", "/queue/unused", "/topic/news"):
                learned = f"{name}-user{sid}"

                async def attach(client: stompbox.Client, learned: str = learned) -> None:
                    async with client.subscribe(learned):
                        pass

                async def plant(client: stompbox.Client, learned: str = learned) -> None:
                    await client.send(learned, "from the server, honest", receipt=True)

                for thief in (login("mallory"), {}):
                    for attempt in (attach, plant):
                        error = await refused(connect, attempt, **thief)
                        assert error.message == "access denied", name
            async with alice.subscribe("/user/queue/private") as private:
                for i in range(4):
                    await app.send_to_user("alice", "/queue/private", f"secret {i}")
                assert [(await private.get(5)).text for _ in range(4)] == [
                    f"secret {i}" for i in range(4)
                ]
                assert await silent(private) == []  # nothing planted

    run(main())


# -- 2. what a user destination's MESSAGE shows -----------------------------------------


def test_user_destination_messages_show_the_user_destination(transport: str) -> None:
    app = StompApp(authenticate=check_password)

    @app.message("/echo")
    @send_to_user("/queue/echo")
    def echo(payload: str) -> str:
        return payload

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(**login("alice")) as alice,
            connect(**login("bob")) as bob,
            alice.subscribe("/user/queue/echo") as echoes,
        ):
            sid = session_id_of(app, "alice")
            await alice.send("/app/echo", "a handler's reply", receipt=True)
            await app.send_to_user("alice", "/queue/echo", "the template")
            await bob.send("/user/alice/queue/echo", "another user", receipt=True)
            texts = []
            for _ in range(3):
                message = await echoes.get(5)
                texts.append(message.text)
                assert message.destination == "/user/queue/echo"
                assert message.headers["subscription"] == echoes.id
                assert not [h for h in message.frame.headers if sid in h[1]], message.frame
            assert sorted(texts) == ["a handler's reply", "another user", "the template"]

    run(main())


# -- 3. no unverified identity ----------------------------------------------------------


def whoami_app(**options: Any) -> StompApp:
    app = StompApp(**options)

    @app.message("/whoami")
    @send_to_user("/queue/me")
    def whoami(principal: str) -> str:
        return principal or "anonymous"

    return app


def test_a_login_nobody_checked_is_no_identity(transport: str) -> None:
    app = whoami_app()  # no authenticate, no trust_login, no users

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(login="alice") as fake,
            connect() as other,
            fake.subscribe("/user/queue/me") as me,
            fake.subscribe("/user/queue/inbox") as inbox,
        ):
            assert app.users() == {}
            await app.send_to_user("alice", "/queue/inbox", "for the real alice")
            await other.send("/user/alice/queue/inbox", "also for alice", receipt=True)
            assert fake.session is not None
            await other.send(f"/user/{fake.session}/queue/inbox", "by session id", receipt=True)
            # its own user destinations still work: a reply goes back to the session
            await fake.send("/app/whoami", b"", receipt=True)
            assert (await me.get(5)).text == "anonymous"
            assert await silent(inbox) == []

    run(main())


def test_trust_login_takes_the_name_and_says_so(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = whoami_app(trust_login=True)
    caplog.set_level(logging.WARNING, "stompbox.security")

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(login="alice") as alice,
            alice.subscribe("/user/queue/me") as me,
        ):
            assert app.users() == {"alice": 1}
            await alice.send("/app/whoami", b"", receipt=True)
            assert (await me.get(5)).text == "alice"
            await app.send_to_user("alice", "/queue/me", "reached")
            assert (await me.get(5)).text == "reached"

    run(main())
    warnings = [r for r in caplog.records if r.name == "stompbox.security"]
    assert any("trusting login 'alice' unchecked" in r.getMessage() for r in warnings)


# -- 4. the ASGI scope's user -------------------------------------------------------------


WEB_SESSIONS = {"s-1": "carol"}
"""Session cookies a web app's login handed out, and whose they are."""


class CookieBackend(AuthenticationBackend):
    """Starlette authentication from a session cookie, as a web app's login sets it."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        name = WEB_SESSIONS.get(conn.cookies.get("session", ""))
        if name is None:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


def browser(url: str, cookie: str | None = None, **options: Any) -> stompbox.Client:
    async def open_stream() -> WebSocketStream:
        """A WebSocket whose handshake carries a browser's cookie (the stompbox client
        sends no headers of its own)."""
        headers = {"Cookie": f"session={cookie}"} if cookie else {}
        websocket = await ws_connect(
            url, subprotocols=[Subprotocol(p) for p in SUBPROTOCOLS], additional_headers=headers
        )
        return WebSocketStream(websocket)

    return stompbox.Client(url, stream_factory=open_stream, heartbeat=(0, 0), **options)


def test_the_asgi_scope_user_is_the_principal() -> None:
    lenient, strict = whoami_app(), whoami_app(require_auth=True)
    web = Starlette(
        routes=[WebSocketRoute("/stomp", lenient.asgi), WebSocketRoute("/strict", strict.asgi)],
        middleware=[Middleware(AuthenticationMiddleware, backend=CookieBackend())],
    )

    async def whoami(client: stompbox.Client) -> str:
        async with client.subscribe("/user/queue/me") as me:
            await client.send("/app/whoami", b"", receipt=True)
            return (await me.get(5)).text

    async def main() -> None:
        async with under_uvicorn(web) as port:
            url = f"ws://127.0.0.1:{port}"
            # CONNECT's login does not override what the web app authenticated
            async with browser(f"{url}/stomp", "s-1", login="mallory") as carol:
                assert await whoami(carol) == "carol"
                assert lenient.users() == {"carol": 1}
            async with browser(f"{url}/stomp", "s-unknown") as nobody:
                assert await whoami(nobody) == "anonymous"
                assert lenient.users() == {}
            async with browser(f"{url}/strict", "s-1") as carol:
                assert await whoami(carol) == "carol"
            with pytest.raises(stompbox.ConnectFailed, match="authentication required"):
                await browser(f"{url}/strict").open()
            assert strict.users() == {}

    run(main())


# -- 5. and 6. who the session is, at CONNECT and in session events ----------------------


def test_an_interceptor_verifies_a_token_on_connect(transport: str) -> None:
    app = whoami_app()
    tokens = {"t-dave": "dave"}
    events: list[tuple[str, Any, str | None]] = []

    @app.inbound_interceptor
    def bearer(frame: Frame, session: ServerSession) -> Frame | None:
        if frame.command in ("CONNECT", "STOMP"):
            token = frame.get("token")
            if token is not None and token not in tokens:
                raise FrameRejected("bad token", "the token did not verify")
            if token is not None:
                session.principal = tokens[token]
        return frame

    @app.on("connect")
    @app.on("connected")
    def record(event: SessionEvent) -> None:
        events.append((event.kind, event.principal, event.user))

    async def main() -> None:
        async with serving(app, transport) as connect:
            async with (
                connect(headers={"token": "t-dave"}) as dave,
                dave.subscribe("/user/queue/me") as me,
            ):
                await dave.send("/app/whoami", b"", receipt=True)
                assert (await me.get(5)).text == "dave"
                assert app.users() == {"dave": 1}
            assert events == [("connect", "dave", "dave"), ("connected", "dave", "dave")]
            with pytest.raises(stompbox.ConnectFailed) as info:
                await connect(headers={"token": "t-forged"}, login="dave").__aenter__()
            assert "bad token" in str(info.value)
            assert "internal error" not in str(info.value)
            assert app.users() == {}

    run(main())


def test_session_events_carry_the_principal(transport: str) -> None:
    erin = Principal("erin", frozenset({"staff"}))

    def authenticate(credentials: Credentials) -> Principal | None:
        return erin if credentials.login == "erin" else None

    app = StompApp(authenticate=authenticate)
    events: list[tuple[str, Any, str | None]] = []

    @app.on("connect")
    @app.on("connected")
    @app.on("disconnect")
    def record(event: SessionEvent) -> None:
        events.append((event.kind, event.principal, event.user))

    async def main() -> None:
        async with serving(app, transport) as connect:
            async with connect(login="erin"):
                pass
            async with connect():
                pass
            await asyncio.sleep(0.05)

    run(main())
    assert events == [
        ("connect", erin, "erin"),
        ("connected", erin, "erin"),
        ("disconnect", erin, "erin"),
        ("connect", None, None),
        ("connected", None, None),
        ("disconnect", None, None),
    ]


# -- 7. access rules ---------------------------------------------------------------------


def test_access_rules_bind_clients_and_not_the_app(transport: str) -> None:
    app = StompApp(
        authenticate=check_password,
        acl=[
            allow("any", "send", "/app/**"),
            allow("any", "subscribe", ["/topic/chat/*", "/user/queue/*"]),
            allow("user:alice", "send", "/user/bob/queue/inbox"),
        ],
    )

    @app.message("/chat/{room}")
    @send_to("/topic/chat/{room}")
    def chat(room: str, payload: str, principal: str) -> str:
        return f"{principal}: {payload}"

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(**login("bob")) as bob,
            bob.subscribe("/topic/chat/lobby") as lobby,
            bob.subscribe("/user/queue/inbox") as inbox,
            bob.subscribe("/user/queue/other") as other,
        ):

            def send(destination: str) -> Callable[[stompbox.Client], Any]:
                async def attempt(client: stompbox.Client) -> None:
                    await client.send(destination, "as if from the server", receipt=True)

                return attempt

            for sender in ({}, login("alice")):
                error = await refused(connect, send("/topic/chat/lobby"), **sender)
                assert error.message == "access denied"
                assert "/topic/chat/lobby" in error.body.decode()
                assert error.headers.get("receipt-id")

            async def wildcard(client: stompbox.Client) -> None:
                async with client.subscribe("/topic/**"):
                    pass

            assert (await refused(connect, wildcard)).message == "access denied"

            # another user's destination goes through the rules like any other
            for sender, destination in [
                ({}, "/user/bob/queue/inbox"),
                (login("mallory"), "/user/bob/queue/inbox"),
                (login("alice"), "/user/bob/queue/other"),
            ]:
                error = await refused(connect, send(destination), **sender)
                assert error.message == "access denied"

            async with connect(**login("alice")) as alice:
                await alice.send("/app/chat/lobby", "hello", receipt=True)
                assert (await lobby.get(5)).text == "alice: hello"
                await alice.send("/user/bob/queue/inbox", "allowed", receipt=True)
                assert (await inbox.get(5)).text == "allowed"
            assert await silent(lobby) == []
            assert await silent(inbox) == []
            assert await silent(other) == []

    run(main())


# -- 8. forged headers ---------------------------------------------------------------------

FORGED = {
    "message-id": "forged-id",
    "subscription": "forged-sub",
    "ack": "forged-ack",
    "redelivered": "true",
    "redelivery-count": "7",
    "original-destination": "/queue/forged",
    "session": "forged-session",
    "user-id": "mallory",
    "user-name": "mallory",
    "x-trace": "kept",
}


def test_forged_headers_do_not_reach_another_user(transport: str) -> None:
    app = StompApp(authenticate=check_password)
    forged = {n: v for n, v in FORGED.items() if n != "user-id"}
    owned = {(n, v) for n, v in forged.items() if n != "x-trace"}

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect(**login("bob")) as bob,
            bob.subscribe("/user/queue/inbox") as inbox,
        ):
            async with connect(**login("alice")) as alice:
                await alice.send("/user/bob/queue/inbox", "forged", headers=forged, receipt=True)
                own = {"user-id": "alice", "x-trace": "kept"}
                await alice.send("/user/bob/queue/inbox", "own", headers=own, receipt=True)
            async with connect() as anonymous:
                await anonymous.send("/user/bob/queue/inbox", "anonymous", headers=forged)
            for user_id in ("alice", "alice", None):
                message = await inbox.get(5)
                headers = message.headers
                assert headers.get("user-id") == user_id
                assert headers["subscription"] == inbox.id
                assert headers["destination"] == "/user/queue/inbox"
                assert headers["x-trace"] == "kept"
                assert not owned & set(message.frame.headers), message.frame
                for name in ("user-name", "original-destination", "redelivered", "session"):
                    assert name not in headers, message.frame
                assert "redelivery-count" not in headers and "ack" not in headers

            # a user-id that is not the sender's own is refused (RabbitMQ's rule), to another
            # user as to a broker destination
            for destination in ("/user/bob/queue/inbox", "/queue/orders"):
                for sender, claim in [(login("alice"), "mallory"), ({}, "alice")]:

                    async def send(
                        client: stompbox.Client, to: str = destination, claim: str = claim
                    ) -> None:
                        await client.send(to, "x", headers={"user-id": claim}, receipt=True)

                    error = await refused(connect, send, **sender)
                    assert error.message == "access denied"
                    assert "user-id" in error.body.decode()
            assert await silent(inbox) == []

    run(main())


def test_a_handler_sees_only_headers_the_broker_vouches_for(transport: str) -> None:
    app = StompApp(authenticate=check_password)
    seen: list[dict[str, str]] = []

    @app.message("/orders")
    def orders(headers: dict[str, str]) -> None:
        seen.append(headers)

    async def main() -> None:
        async with serving(app, transport) as connect:
            forged = {n: v for n, v in FORGED.items() if n != "user-id"}
            async with connect(**login("alice")) as alice:
                await alice.send("/app/orders", "x", headers=forged, receipt=True)
            async with connect() as anonymous:
                await anonymous.send("/app/orders", "x", headers=forged, receipt=True)

            async def claim(client: stompbox.Client) -> None:
                await client.send("/app/orders", "x", headers={"user-id": "bob"}, receipt=True)

            error = await refused(connect, claim, **login("alice"))
            assert error.message == "access denied"

    run(main())
    assert [headers.get("user-id") for headers in seen] == ["alice", None]
    for headers in seen:
        assert headers["x-trace"] == "kept"
        assert not {n for n in FORGED if n not in ("user-id", "x-trace")} & set(headers), headers


# -- 9. roles on handlers ------------------------------------------------------------------


def test_handlers_with_roles(transport: str) -> None:
    people = {
        "root": Principal("root", frozenset({"admin"})),
        "ann": Principal("ann", frozenset({"staff"})),
    }
    app = StompApp(authenticate=lambda c: people.get(c.login or ""))
    purged: list[str] = []

    @app.message("/admin/purge", roles=["admin"])
    def purge(principal: Principal) -> None:
        purged.append(principal.name)

    @app.subscribe("/admin/stats", roles=["admin", "ops"])
    def stats() -> dict[str, int]:
        return {"purged": len(purged)}

    async def main() -> None:
        async with serving(app, transport) as connect:

            async def purge_it(client: stompbox.Client) -> None:
                await client.send("/app/admin/purge", b"", receipt=True)

            async def read_stats(client: stompbox.Client) -> None:
                async with client.subscribe("/app/admin/stats") as sub:
                    await sub.get(5)

            for who in ({"login": "ann"}, {}):
                for attempt in (purge_it, read_stats):
                    error = await refused(connect, attempt, **who)
                    assert error.message == "access denied"
                    assert "admin" in error.body.decode()
            assert purged == []
            async with connect(login="root") as root:
                await purge_it(root)
                assert purged == ["root"]
                async with root.subscribe("/app/admin/stats") as sub:
                    assert (await sub.get(5)).json() == {"purged": 1}

    run(main())


# -- 10. the chat example ------------------------------------------------------------------


def load_example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"{name}_security_example", ROOT / "examples" / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_chat_example_lets_nobody_post_as_the_server() -> None:
    chat = load_example("chat")

    async def main() -> None:
        async with under_uvicorn(chat.app) as port:
            url = f"ws://127.0.0.1:{port}/stomp"
            async with (
                stompbox.connect(url, login="finn") as finn,
                finn.subscribe("/topic/chat/lobby") as lobby,
                finn.subscribe("/user/queue/private") as private,
            ):
                with pytest.raises(stompbox.BrokerErrorFrame, match="access denied"):
                    async with stompbox.connect(url, login="erin") as erin:
                        await erin.send(
                            "/topic/chat/lobby",
                            {"room": "lobby", "sender": "server", "text": "forged", "at": 0},
                            receipt=True,
                        )
                async with stompbox.connect(url, login="erin") as erin:
                    await erin.send("/app/chat/lobby", {"text": "hi"}, receipt=True)
                    posted = (await lobby.get(5)).json()
                    assert (posted["sender"], posted["text"]) == ("erin", "hi")
                    await erin.send("/app/private", {"to": "finn", "text": "psst"}, receipt=True)
                    whispered = await private.get(5)
                    assert whispered.destination == "/user/queue/private"
                    assert (whispered.json()["sender"], whispered.json()["text"]) == (
                        "erin",
                        "psst",
                    )
                with pytest.raises(stompbox.BrokerErrorFrame, match="access denied"):
                    async with (
                        stompbox.connect(url) as anonymous,
                        anonymous.subscribe("/user/queue/private"),
                    ):
                        pass
                # the server itself still posts to the room
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    response = await http.post("/announce", json={"text": "maintenance"})
                    assert response.json() == {"sent": True}
                announced = (await lobby.get(5)).json()
                assert (announced["sender"], announced["text"]) == ("server", "maintenance")
                assert await silent(lobby) == []

    run(main())


def test_a_transaction_cannot_hold_what_the_application_does_at_once(transport: str) -> None:
    """ABORT cannot undo a handler that ran or a message another user got: such SENDs in a
    transaction are refused, never done at once behind the transaction's back."""
    app = StompApp(authenticate=check_password)
    ran: list[str] = []

    @app.message("/pay")
    def pay(payload: str) -> None:
        ran.append(payload)

    async def main() -> None:
        async with serving(app, transport) as connect:
            for destination in ("/app/pay", "/user/bob/queue/inbox"):

                async def in_transaction(client: stompbox.Client, to: str = destination) -> None:
                    async with client.transaction() as tx:
                        await tx.send(to, "x", receipt=True)

                error = await refused(connect, in_transaction, **login("alice"))
                assert error.message == "transactions hold SENDs to broker destinations only"
            assert ran == []

    run(main())
