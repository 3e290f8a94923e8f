"""The application: Spring's ``@EnableWebSocketMessageBroker`` flow, the Python way.

Frames whose destination starts with an application prefix (``/app``) go to handlers;
frames under a broker prefix (``/topic``, ``/queue``) go to the broker; a handler's
return value goes to the broker. ``/user/...`` destinations reach one user's sessions.

:class:`StompApp` is a facade over the pieces that do it: :mod:`.dispatch` (which frame
goes where, handlers in order per session, errors), :mod:`.replies`, :mod:`.users`,
:mod:`.template` (and the relay) and :mod:`.hooks` (events and interceptors).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from stompbox.broker import Broker, BrokerError, DestinationKind
from stompbox.protocol import Frame
from stompbox.relay import RelayPeer, RelaySettings, RelaySettingsError, RelayUnavailable
from stompbox.security.acl import AccessRule
from stompbox.server.asgi import StompASGI
from stompbox.server.config import ConfigError, ServerConfig
from stompbox.server.registry import SessionRegistry
from stompbox.server.run import start_server
from stompbox.server.session import AccessDenied, ServerSession
from stompbox.server.tcp import TcpServer

from .api import (
    BrokerAvailability,
    Credentials,
    FrameRejected,
    SessionEvent,
    send_to,
    send_to_user,
)
from .dispatch import Dispatcher
from .hooks import EVENTS, Hooks, Interceptor
from .identity import Identify
from .relaying import Relaying
from .replies import ReplyRouter
from .routing import ExceptionRoute, MessageRoute, Router
from .template import Template
from .users import UserDestinations

if TYPE_CHECKING:
    from stompbox.sockjs import SockJSEndpoint

__all__ = [
    "AccessDenied",
    "BrokerAvailability",
    "Credentials",
    "FrameRejected",
    "SessionEvent",
    "StompApp",
    "send_to",
    "send_to_user",
]

F = TypeVar("F", bound=Callable[..., Any])


RELAY_COMMENT = " (relay)"
"""Added to CONNECTED's ``server`` header (a comment, as the specification allows) when
broker destinations are relayed."""


class StompApp:
    """Handlers, a broker and the glue between them; several may live in one process."""

    def __init__(
        self,
        *,
        app_prefixes: tuple[str, ...] = ("/app",),
        broker_prefixes: tuple[str, ...] | Mapping[str, str] = ("/topic", "/queue"),
        user_prefix: str = "/user",
        separator: str = "/",
        config: ServerConfig | None = None,
        authenticate: Callable[[Credentials], Any] | None = None,
        require_auth: bool = False,
        trust_login: bool = False,
        acl: Iterable[AccessRule] | None = None,
        relay: str | RelaySettings | None = None,
        strict_errors: bool = False,
        error_destination: str = "/queue/errors",
        routes: Iterable[MessageRoute | ExceptionRoute] = (),
    ) -> None:
        self.app_prefixes = tuple(p.rstrip("/") for p in app_prefixes)
        if isinstance(broker_prefixes, Mapping):
            kinds = {p.rstrip("/"): DestinationKind(k) for p, k in broker_prefixes.items()}
        else:
            kinds = {
                p.rstrip("/"): DestinationKind.QUEUE if "queue" in p else DestinationKind.TOPIC
                for p in broker_prefixes
            }
        self.broker_prefixes = tuple(kinds)
        self.config = config or ServerConfig()
        self.config.broker = dataclasses.replace(
            self.config.broker, prefixes={f"{p}/": k for p, k in kinds.items()}, separator=separator
        )
        security = self.config.security
        security.trust_login = security.trust_login or trust_login
        if acl is not None:
            security.acl = list(acl)
        if security.anonymous is None and (require_auth or authenticate is not None):
            security.anonymous = not require_auth
        self.broker = Broker(self.config.broker)
        self.registry = SessionRegistry(self.broker, self.config, self)
        """Where this app's sessions are opened, whatever the transport (TCP, WebSocket,
        ASGI, TestClient): one connection limit for all of them."""
        self.router = Router(routes, separator=separator)
        """The routes: added by the decorators, by ``routes=``, or by :meth:`include_router`."""
        self.template = Template(self.broker)
        self.hooks = Hooks()
        self._forwarded: dict[ServerSession, tuple[str | None, str | None]] = {}
        self._identify = Identify(self.hooks, authenticate, require_auth)
        self.user_destinations = UserDestinations(
            self.broker, self.template, user_prefix.rstrip("/"), self.broker_prefixes
        )
        users = self.user_destinations
        replies = ReplyRouter(self.template, users, self.app_prefixes, self.broker_prefixes)
        self.dispatcher = Dispatcher(
            self.broker, self.router, replies, users, self.template, self.hooks, self.app_prefixes
        )
        self.dispatcher.strict_errors = strict_errors
        self.dispatcher.error_destination = error_destination
        if relay is None and self.config.relay is not None:
            try:
                relay = RelaySettings.from_dict(self.config.relay)
            except RelaySettingsError as exc:
                raise ConfigError(str(exc)) from None
        if relay is not None:
            self.use_relay(RelaySettings.from_url(relay) if isinstance(relay, str) else relay)
        self._asgi: StompASGI | None = None
        self._sockjs: SockJSEndpoint | None = None

    @property
    def relay(self) -> Relaying | None:
        """With a relay, broker destinations live on that broker (RabbitMQ, ActiveMQ):
        each session gets its own connection to it, and the application's messages go
        through one system session, opened when the app starts."""
        return self.template.relay

    def use_relay(self, settings: RelaySettings) -> None:
        """Relay broker destinations as ``settings`` say (before the app starts)."""
        if self.template.relay is not None and self.template.relay.running:
            raise RuntimeError("the relay cannot change while the app runs")
        relaying = Relaying(settings, self.hooks)
        users = self.user_destinations
        relaying.local_users = users.local_users
        relaying.on_broadcast = users.from_broadcast
        self.template.relay = relaying
        if not self.config.server_name.endswith(RELAY_COMMENT):
            # CONNECTED says so: a relayed broker's rules apply (RabbitMQ refuses an ACK
            # after UNSUBSCRIBE, which the embedded broker takes)
            self.config.server_name += RELAY_COMMENT

    # -- registration: sugar over routes (see :class:`Router`) -------------------------

    def message(self, pattern: str, *, roles: Iterable[str] = ()) -> Callable[[F], F]:
        """``@app.message("/chat/{room}")``: handle SENDs to ``/app/chat/<room>``; with
        ``roles``, only from a principal that has one of them."""
        return self.router.message(pattern, roles=roles)

    def subscribe(self, pattern: str, *, roles: Iterable[str] = ()) -> Callable[[F], F]:
        """``@app.subscribe("/rooms")``: answer a SUBSCRIBE to ``/app/rooms`` once, directly."""
        return self.router.subscribe(pattern, roles=roles)

    def exception_handler(self, *types: type[BaseException]) -> Callable[[F], F]:
        """Handle exceptions of these types raised by handlers (or payload conversion);
        the return value is routed like a handler's (``send_to_user`` works)."""
        return self.router.exception_handler(*types)

    def include_router(self, router: Router, prefix: str = "") -> None:
        """Add a group of routes (``Router(prefix="/orders", reply=..., routes=[...])``),
        under ``prefix`` too."""
        self.router.include(router, prefix)

    def on(self, event: str) -> Callable[[F], F]:
        """``@app.on("connected")``: call ``fn(event: SessionEvent)`` (sync or async)."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events are {', '.join(EVENTS)}")

        def register(listener: F) -> F:
            self.hooks.listeners[event].append(listener)
            return listener

        return register

    def inbound_interceptor(self, interceptor: Interceptor) -> Interceptor:
        """See every client frame, CONNECT included: return it (changed or not), None to
        drop it (a CONNECT dropped is refused), or raise :class:`FrameRejected` to answer
        with an ERROR. An interceptor that verifies a CONNECT's token may set
        ``session.principal`` (Spring's token-on-CONNECT pattern)."""
        self.hooks.inbound.append(interceptor)
        return interceptor

    def outbound_interceptor(self, interceptor: Interceptor) -> Interceptor:
        """See every frame on its way to a client (MESSAGE, RECEIPT, ERROR, CONNECTED):
        return it (changed or not), or None to drop it. Without one, output is written as
        serialized, once for all subscribers; with one, each client's output is parsed
        again to be offered here, which costs what parsing costs."""
        self.hooks.outbound.append(interceptor)
        return interceptor

    # -- the messaging template --------------------------------------------------------

    async def send(
        self, destination: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        """Publish to a broker destination, from anywhere (an HTTP route, a task)."""
        self.template.publish(destination, payload, headers)

    async def send_to_user(
        self, user: str, destination: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send to ``/user/queue/...`` of every session of ``user`` that subscribed to it,
        on this instance or (with a relay) any other relaying to the same broker."""
        self.user_destinations.send(user, destination, payload, headers)

    def users(self) -> dict[str, int]:
        """Connected users and how many sessions each has (Spring's user registry): with
        a relay, the other instances' too, as they last said."""
        counts = {user: len(s) for user, s in self.user_destinations.users.items()}
        relay = self.template.relay
        if relay is not None and relay.running:
            for user, count in relay.remote.counts(time.monotonic()).items():
                counts[user] = counts.get(user, 0) + count
        return counts

    # -- running -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start what the app runs beside its sessions (the relay's system session).
        Servers, ASGI lifespans and TestClients call it; it counts, and :meth:`stop`
        stops on the last."""
        if self.template.relay is not None:
            await self.template.relay.start()

    async def stop(self) -> None:
        if self.template.relay is not None:
            await self.template.relay.stop()

    def readiness(self) -> str | None:
        """None when ready; with a relay, why not while the relayed broker is away."""
        relay = self.template.relay
        if relay is not None and relay.running and not relay.system.available:
            return f"relayed broker unavailable: {relay.system.outage_detail()}"
        return None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StompApp]:
        """``async with app.running():`` - started inside, stopped after."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    # -- Application protocol, called by each ServerSession ----------------------------

    async def authenticate(
        self, session: ServerSession, frame: Frame, credentials: Credentials, verified: Any
    ) -> Any:
        principal = await self._identify(session, frame, credentials, verified)
        relay = self.template.relay
        if relay is not None and relay.settings.forward_login:
            self._forwarded[session] = (credentials.login, credentials.passcode)
        return principal

    def connected(self, session: ServerSession) -> None:
        self.dispatcher.add(session)
        self.user_destinations.add(session)
        relay = self.template.relay
        if relay is not None:
            relay.open(session, self._relay_peer(session), self._forwarded.pop(session, None))
        self.hooks.emit("connected", session)

    def _relay_peer(self, session: ServerSession) -> RelayPeer:
        users = self.user_destinations
        errors = self.dispatcher.error_destination

        def notify(available: bool, detail: str) -> None:
            text = "broker available" if available else "broker unavailable"
            users.tell(session, errors, f"{text}: {detail}", message=text)

        return RelayPeer(
            deliver=lambda frame: session.write_frame(users.shown(session, frame)),
            fail=session.error,
            receipt=session.send_receipt,
            disconnected=session.end,
            notify=notify,
            backlogged=session.backlogged,
            pause=session.pause_reading,
            resume=session.resume_reading,
        )

    def disconnected(self, session: ServerSession) -> None:
        self.hooks.forget(session)
        self._forwarded.pop(session, None)
        if self.template.relay is not None:
            self.template.relay.close(session, self.hooks.spawn)
        if self.dispatcher.remove(session):
            self.user_destinations.remove(session)
            self.hooks.emit("disconnect", session)

    def inbound(self, session: ServerSession, frame: Frame) -> Frame | None:
        intercepted = self.hooks.intercept(frame, session)
        if intercepted is None:
            return None
        try:
            return self.dispatcher.inbound(session, intercepted)
        except RelayUnavailable as exc:  # a user destination, published while it is away
            raise BrokerError(exc.message, exc.detail) from None

    def outgoing(self, session: ServerSession, chunks: list[bytes]) -> list[bytes]:
        return self.hooks.outgoing(session, chunks)

    # -- running -----------------------------------------------------------------------

    @property
    def asgi(self) -> StompASGI:
        """The WebSocket endpoint as an ASGI app, to mount in Starlette or FastAPI."""
        if self._asgi is None:
            self._asgi = StompASGI(registry=self.registry)
        return self._asgi

    @property
    def sockjs_asgi(self) -> SockJSEndpoint:
        """SockJS as an ASGI app (Spring's ``withSockJS()``): mount it at a path,
        ``Mount("/portfolio", app=stomp.sockjs_asgi)``, and browsers connect with
        ``new SockJS("/portfolio")``. Origin checks and authentication are :attr:`asgi`'s."""
        if self._sockjs is None:
            from stompbox.server.sockjs import sockjs_endpoint

            self._sockjs = sockjs_endpoint(self.registry)
        return self._sockjs

    @contextlib.asynccontextmanager
    async def serve_tcp(self, **overrides: Any) -> AsyncIterator[TcpServer]:
        """Run TCP (and WebSocket unless ``ws_port=0``) listeners for this app."""
        for name, value in overrides.items():
            setattr(self.config, name, value)
        async with start_server(registry=self.registry) as server:
            yield server
