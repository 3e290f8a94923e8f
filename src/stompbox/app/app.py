"""The application: Spring's ``@EnableWebSocketMessageBroker`` flow, the Python way.

Frames whose destination starts with an application prefix (``/app``) go to handlers;
frames under a broker prefix (``/topic``, ``/queue``) go to the broker; a handler's
return value goes to the broker. ``/user/...`` destinations reach one user's sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from stompbox.broker import Broker, BrokerError, DestinationKind
from stompbox.broker.message import OWNED_HEADERS, check_user_id, sender_headers
from stompbox.net import parse_url
from stompbox.protocol import Frame, FrameParser, Limits, serialize
from stompbox.relay import RelayConnection
from stompbox.security.acl import AccessRule
from stompbox.security.authn import principal_of
from stompbox.server.asgi import StompASGI
from stompbox.server.config import ServerConfig
from stompbox.server.registry import SessionRegistry
from stompbox.server.run import start_server
from stompbox.server.session import AccessDenied, ServerSession
from stompbox.server.tcp import TcpServer

from .api import Credentials, FrameRejected, SessionEvent, replies_of, send_to, send_to_user
from .conversion import ConversionError, encode_payload
from .params import Context, Signature
from .routing import MessageRoute, Reply, Router, SubscribeRoute

if TYPE_CHECKING:
    from stompbox.sockjs import SockJSEndpoint

__all__ = [
    "AccessDenied",
    "Credentials",
    "FrameRejected",
    "SessionEvent",
    "StompApp",
    "send_to",
    "send_to_user",
]

log = logging.getLogger("stompbox.app")

_PRIVATE_MARKER = "-user"
"""What joins a user destination to its session's id in the broker destination behind it
(``/queue/updates-user<id>``, Spring's naming); the broker keeps such names private."""

_RELAYED = frozenset(
    {"SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT"}
)

F = TypeVar("F", bound=Callable[..., Any])
EVENTS = ("connect", "connected", "subscribe", "unsubscribe", "disconnect")


@dataclass(slots=True)
class _SessionState:
    user: str | None
    """The verified user's name; None for an anonymous session, which has user
    destinations of its own but is no one others can send to."""
    jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    app_subscriptions: set[str] = field(default_factory=set)
    user_subscriptions: dict[str, str] = field(default_factory=dict)
    """subscription id -> user destination (``/queue/updates``)."""


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
        relay: str | None = None,
        strict_errors: bool = False,
        error_destination: str = "/queue/errors",
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
        self.user_prefix = user_prefix.rstrip("/")
        self.config = config or ServerConfig()
        self.config.broker = dataclasses.replace(
            self.config.broker,
            prefixes={f"{p}/": k for p, k in kinds.items()},
            separator=separator,
        )
        security = self.config.security
        if trust_login:
            security.trust_login = True
        if acl is not None:
            security.acl = list(acl)
        if security.anonymous is None and (require_auth or authenticate is not None):
            security.anonymous = not require_auth
        self.broker = Broker(self.config.broker)
        self.broker.private_marker = _PRIVATE_MARKER
        self.registry = SessionRegistry(self.broker, self.config, self)
        """Where this app's sessions are opened, whatever the transport (TCP, WebSocket,
        ASGI, TestClient): one connection limit for all of them."""
        self.router = Router(separator=separator)
        self.authenticator = authenticate
        self.require_auth = require_auth
        self.strict_errors = strict_errors
        """An application error (bad payload, a handler that raised, no handler) closes
        the session with an ERROR, instead of being reported on ``error_destination``."""
        self.error_destination = error_destination
        """The user destination (``/user`` + this) where a session hears of the errors of
        its frames."""
        self._exception_handlers: list[tuple[type[BaseException], MessageRoute]] = []
        self._listeners: dict[str, list[Callable[[SessionEvent], Any]]] = {e: [] for e in EVENTS}
        self._inbound: list[Callable[[Frame, ServerSession], Frame | None]] = []
        self._outbound: list[Callable[[Frame, ServerSession], Frame | None]] = []
        self._outgoing: dict[ServerSession, FrameParser] = {}
        self._sessions: dict[ServerSession, _SessionState] = {}
        self._users: dict[str, dict[ServerSession, None]] = {}
        self._ids = itertools.count(1)
        self._asgi: StompASGI | None = None
        self._sockjs: SockJSEndpoint | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.relay_url = parse_url(relay) if relay is not None else None
        """With a relay, broker destinations live on that broker (RabbitMQ, ActiveMQ):
        each session gets its own connection to it, and the template shares one."""
        self._relays: dict[ServerSession, RelayConnection] = {}
        self._system_relay: RelayConnection | None = None

    # -- registration ------------------------------------------------------------------

    def message(self, pattern: str, *, roles: Iterable[str] = ()) -> Callable[[F], F]:
        """``@app.message("/chat/{room}")``: handle SENDs to ``/app/chat/<room>``; with
        ``roles``, only from a principal that has one of them."""

        def register(handler: F) -> F:
            self.router.add(MessageRoute(pattern, handler, roles=frozenset(roles)))
            return handler

        return register

    def subscribe(self, pattern: str, *, roles: Iterable[str] = ()) -> Callable[[F], F]:
        """``@app.subscribe("/rooms")``: answer a SUBSCRIBE to ``/app/rooms`` once, directly."""

        def register(handler: F) -> F:
            self.router.add(SubscribeRoute(pattern, handler, roles=frozenset(roles)))
            return handler

        return register

    def exception_handler(self, *types: type[BaseException]) -> Callable[[F], F]:
        """Handle exceptions of these types raised by handlers (or payload conversion);
        the return value is routed like a handler's (``send_to_user`` works)."""

        def register(handler: F) -> F:
            route = MessageRoute("**", handler)
            route.bind(self.router.separator)
            for kind in types or (Exception,):
                self._exception_handlers.append((kind, route))
            return handler

        return register

    def on(self, event: str) -> Callable[[F], F]:
        """``@app.on("connected")``: call ``fn(event: SessionEvent)`` (sync or async)."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events are {', '.join(EVENTS)}")

        def register(listener: F) -> F:
            self._listeners[event].append(listener)
            return listener

        return register

    def inbound_interceptor(
        self, interceptor: Callable[[Frame, ServerSession], Frame | None]
    ) -> Callable[[Frame, ServerSession], Frame | None]:
        """See every client frame, CONNECT included: return it (changed or not), None to
        drop it (a CONNECT dropped is refused), or raise :class:`FrameRejected` to answer
        with an ERROR. An interceptor that verifies a CONNECT's token may set
        ``session.principal`` (Spring's token-on-CONNECT pattern)."""
        self._inbound.append(interceptor)
        return interceptor

    def outbound_interceptor(
        self, interceptor: Callable[[Frame, ServerSession], Frame | None]
    ) -> Callable[[Frame, ServerSession], Frame | None]:
        """See every frame on its way to a client (MESSAGE, RECEIPT, ERROR, CONNECTED):
        return it (changed or not), or None to drop it.

        Deliveries are serialized once and shared among subscribers; with an outbound
        interceptor registered, each client's output is parsed again so that it can be
        offered here, which costs what parsing costs. Without one, nothing is added.
        """
        self._outbound.append(interceptor)
        return interceptor

    def outgoing(self, session: ServerSession, data: bytes) -> bytes:
        """Run outbound interceptors over bytes about to be written to ``session``."""
        if not self._outbound:
            return data
        parser = self._outgoing.get(session)
        if parser is None:
            parser = self._outgoing[session] = FrameParser(
                session.conn.version, Limits(None, None, None, None)
            )
        parser.feed(data)
        out = []
        for frame in parser.frames():
            current: Frame | None = frame
            for interceptor in self._outbound:
                if current is None:
                    break
                current = interceptor(current, session)
            if current is not None:
                out.append(serialize(current, session.conn.version))
        if data.strip(b"\r\n") == b"":  # a heart-beat
            return data
        return b"".join(out)

    # -- the messaging template --------------------------------------------------------

    async def send(
        self, destination: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        """Publish to a broker destination, from anywhere (an HTTP route, a task)."""
        self._publish(destination, payload, headers)

    async def send_to_user(
        self,
        user: str,
        destination: str,
        payload: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send to ``/user/queue/...`` of every session of ``user`` that subscribed to it."""
        self._send_to_user(user, destination, payload, headers, only=None)

    def _publish(self, destination: str, payload: Any, headers: Mapping[str, str] | None) -> None:
        body, content_type = encode_payload(payload)
        out = [("destination", destination)]
        if content_type:
            out.append(("content-type", content_type))
        if headers:
            out.extend(headers.items())
        if self.relay_url is not None:
            self._system().send(Frame("SEND", tuple(out), body))
            return
        self.broker.publish(destination, tuple(out[1:]), body)

    def _system(self) -> RelayConnection:
        """The relay connection the template publishes through, made on first use."""
        if self._system_relay is None:
            assert self.relay_url is not None

            def lost(reason: str) -> None:
                self._system_relay = None

            relay = RelayConnection(self.relay_url, None, self._system_frame, lost)
            relay.start()
            self._system_relay = relay
        return self._system_relay

    @staticmethod
    def _system_frame(frame: Frame) -> None:
        if frame.command == "ERROR":
            log.error("relay refused a message: %s", frame.get("message"))

    def _send_to_user(
        self,
        user: str,
        destination: str,
        payload: Any,
        headers: Mapping[str, str] | None,
        only: ServerSession | None,
    ) -> None:
        sessions = (only,) if only is not None else tuple(self._users.get(user, ()))
        for session in sessions:
            state = self._sessions.get(session)
            if state is not None and destination in state.user_subscriptions.values():
                self._publish(self._session_destination(session, destination), payload, headers)

    def _session_destination(self, session: ServerSession, destination: str) -> str:
        """``/queue/updates`` of one session -> the broker destination behind it, which
        only that session may subscribe to (the broker refuses everyone else) and whose
        messages show ``/user/queue/updates``."""
        assert session.session is not None
        resolved = f"{destination}{_PRIVATE_MARKER}{session.session.id}"
        self.broker.reserve(resolved, session.session, self.user_prefix + destination)
        return resolved

    # -- Application protocol, called by each ServerSession ----------------------------

    async def authenticate(
        self, session: ServerSession, frame: Frame, credentials: Credentials, verified: Any
    ) -> Any:
        """Who the CONNECT is from: what an inbound interceptor set, else what this app's
        ``authenticate`` callable returns, else what the server ``verified`` (users file,
        token, certificate, the ASGI scope's user). Never CONNECT's login unchecked,
        unless ``trust_login`` (development) says so. An ``authenticate`` callable has
        the last word: its None makes even a verified client anonymous."""
        for interceptor in self._inbound:
            try:
                result = interceptor(frame, session)
            except FrameRejected as exc:  # a refused token: the interceptor's words
                raise AccessDenied(str(exc)) from exc
            if result is None:
                raise AccessDenied("CONNECT refused")
            frame = result
        principal = verified
        if session.principal is not None:
            principal = session.principal
        elif self.authenticator is not None:
            principal = self.authenticator(credentials)
            if inspect.isawaitable(principal):
                principal = await principal
        if principal is None and self.require_auth:
            raise AccessDenied("authentication required")
        session.principal = principal
        session.identity = principal_of(principal, "app")  # the connect event's user
        self._emit("connect", session, frame)
        return principal

    def connected(self, session: ServerSession) -> None:
        assert session.session is not None
        identity = session.identity
        user = identity.name if identity is not None else None
        self._sessions[session] = _SessionState(user)
        if user is not None:
            self._users.setdefault(user, {})[session] = None
        if self.relay_url is not None:

            def from_broker(frame: Frame) -> None:
                if frame.command == "ERROR":
                    detail = frame.body.decode("utf-8", "replace")
                    session.error(frame.get("message") or "broker error", detail)
                    return
                state = self._sessions.get(session)
                if frame.command == "MESSAGE" and state is not None:
                    target = state.user_subscriptions.get(frame.get("subscription") or "")
                    if target is not None:  # shown as the user destination subscribed to
                        frame = frame.with_headers([("destination", self.user_prefix + target)])
                session.write_frame(frame)

            def lost(reason: str) -> None:
                session.error("broker relay lost", reason)

            relay = RelayConnection(self.relay_url, session.conn.version, from_broker, lost)
            relay.start()
            self._relays[session] = relay
        self._emit("connected", session)

    def disconnected(self, session: ServerSession) -> None:
        self._outgoing.pop(session, None)
        relay = self._relays.pop(session, None)
        if relay is not None:
            task = asyncio.ensure_future(relay.close())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        state = self._sessions.pop(session, None)
        if state is None:
            return
        if state.worker is not None:
            state.worker.cancel()
        user = state.user
        sessions = self._users.get(user) if user is not None else None
        if user is not None and sessions is not None:
            sessions.pop(session, None)
            if not sessions:
                del self._users[user]
        self._emit("disconnect", session)

    def inbound(self, session: ServerSession, frame: Frame) -> Frame | None:
        for interceptor in self._inbound:
            result = interceptor(frame, session)
            if result is None:
                return None
            frame = result
        state = self._sessions.get(session)
        if state is None:
            return frame
        command = frame.command
        relay = self._relays.get(session)
        if relay is not None and command in ("SEND", "SUBSCRIBE"):
            # the external broker does not know which destinations are private
            owner = self.broker.owner(frame.get("destination") or "")
            if owner is not None and owner is not session.session:
                raise BrokerError("access denied", f"{command} to that destination is not allowed")
        if command == "SEND":
            destination = frame.get("destination") or ""
            path = self._strip(destination, self.app_prefixes)
            to_user = path is None and self._strip(destination, (self.user_prefix,)) is not None
            if (path is not None or to_user) and frame.get("transaction") is not None:
                raise BrokerError(  # refused, rather than done at once and not undone by ABORT
                    "transactions hold SENDs to broker destinations only",
                    f"{destination} is handled by the application at once; send it outside "
                    "the transaction",
                )
            if path is not None:
                frame = self._vouched(session, frame)
                self._enqueue(session, state, self._on_frame(session, frame, destination, path))
                return None
            if to_user:
                self._send_to_named_user(session, frame, destination)
                return None
        elif command == "SUBSCRIBE":
            destination = frame.get("destination") or ""
            sub_id = frame.get("id") or destination
            path = self._strip(destination, self.app_prefixes)
            if path is not None:
                state.app_subscriptions.add(sub_id)
                self._emit("subscribe", session, frame)
                self._enqueue(
                    session, state, self._on_frame(session, frame, destination, path, sub_id)
                )
                return None
            user_path = self._strip(destination, (self.user_prefix,))
            if user_path is not None:
                target = "/" + user_path
                if self._strip(target, self.broker_prefixes) is None:
                    raise BrokerError(
                        "invalid user destination",
                        f"{destination} must name a broker destination after {self.user_prefix}, "
                        f"as {self.user_prefix}/queue/updates",
                    )
                state.user_subscriptions[sub_id] = target
                frame = frame.with_headers(
                    [("destination", self._session_destination(session, target))]
                )
            self._emit("subscribe", session, frame)
        elif command == "UNSUBSCRIBE":
            sub_id = frame.get("id") or frame.get("destination") or ""
            self._emit("unsubscribe", session, frame)
            if sub_id in state.app_subscriptions:
                state.app_subscriptions.discard(sub_id)
                session.send_receipt(frame)
                return None
            state.user_subscriptions.pop(sub_id, None)
        if relay is not None and command in _RELAYED:
            relay.send(frame)  # the external broker answers, receipts included
            return None
        return frame

    # -- handling ----------------------------------------------------------------------

    @staticmethod
    def _strip(destination: str, prefixes: tuple[str, ...]) -> str | None:
        for prefix in prefixes:
            if destination.startswith(prefix + "/") or destination.startswith(prefix + "."):
                return destination[len(prefix) + 1 :]
        return None

    def _enqueue(
        self,
        session: ServerSession,
        state: _SessionState,
        job: Callable[[], Awaitable[None]],
    ) -> None:
        """Run jobs of one session one after another, so replies keep the client's order."""
        state.jobs.put_nowait(job)
        if state.worker is None or state.worker.done():
            state.worker = asyncio.get_running_loop().create_task(self._work(state))

    @staticmethod
    async def _work(state: _SessionState) -> None:
        while not state.jobs.empty():
            job = state.jobs.get_nowait()
            await job()

    def _on_frame(
        self,
        session: ServerSession,
        frame: Frame,
        destination: str,
        path: str,
        sub_id: str | None = None,
    ) -> Callable[[], Awaitable[None]]:
        """The job for a SEND (``sub_id`` None) or SUBSCRIBE to an application destination."""
        subscribe = sub_id is not None

        async def job() -> None:
            found = self.router.find(path, subscribe=subscribe)
            if found is None:
                decorator = "@app.subscribe" if subscribe else "@app.message"
                detail = f"no {decorator} handler for {destination}"
                self._report(session, frame, destination, "no handler", detail)
                return
            route, variables = found
            if route.roles and not (session.identity and route.roles & session.identity.roles):
                session.error(
                    "access denied",
                    f"{destination} needs one of the roles {', '.join(sorted(route.roles))}",
                    frame=frame,
                )
                return
            ctx = Context(frame, destination, variables, session, session.principal)
            if await self._call(route, ctx, session, frame, sub_id=sub_id):
                session.send_receipt(frame)

        return job

    async def _call(
        self,
        route: MessageRoute,
        ctx: Context,
        session: ServerSession,
        frame: Frame,
        sub_id: str | None,
    ) -> bool:
        """Run a handler and route its result; False when the session got an ERROR."""
        try:
            result = await _invoke(route.signature, ctx)
            self._reply(route, result, ctx, session, sub_id)
        except Exception as exc:
            return await self._handle_exception(exc, ctx, session, frame)
        return True

    async def _handle_exception(
        self, exc: Exception, ctx: Context, session: ServerSession, frame: Frame
    ) -> bool:
        for kind, route in self._exception_handlers:
            if isinstance(exc, kind):
                ctx.exception = exc
                try:
                    result = await _invoke(route.signature, ctx)
                    self._reply(route, result, ctx, session, None)
                except Exception as inner:
                    log.exception("exception handler failed")
                    detail = f"{type(inner).__name__}: {inner}"
                    self._report(session, frame, ctx.destination, "application error", detail)
                    return False
                return True
        if isinstance(exc, ConversionError):
            message, detail = "invalid payload", f"{ctx.destination}: {exc}"
        elif isinstance(exc, BrokerError):
            message, detail = exc.message, exc.detail
        else:
            log.exception("handler for %s failed", ctx.destination)
            message, detail = "application error", f"{type(exc).__name__}: {exc}"
        self._report(session, frame, ctx.destination, message, detail)
        return False

    def _report(
        self, session: ServerSession, frame: Frame, destination: str, message: str, detail: str
    ) -> None:
        """An error of the application's (a payload that does not convert, a handler that
        raised, no handler): the session goes on, and the sender hears of it on its
        ``/user/queue/errors`` (when it subscribed there) as a MESSAGE with a ``message``
        header, the failing frame's ``receipt-id`` and ``source-destination``; the frame
        gets no RECEIPT. With ``strict_errors``, an ERROR closes the session instead."""
        if self.strict_errors:
            session.error(message, detail, frame=frame)
            return
        log.warning("%s: %s: %s", session.peer, message, detail)
        headers = {"message": message, "source-destination": destination}
        receipt = frame.get("receipt")
        if receipt is not None:
            headers["receipt-id"] = receipt
        self._to_own_user(session, self.error_destination, detail, headers, broadcast=False)

    def _reply(
        self,
        route: MessageRoute,
        result: Any,
        ctx: Context,
        session: ServerSession,
        sub_id: str | None,
    ) -> None:
        if result is None:
            return
        replies = ((route.reply,) if route.reply is not None else ()) + replies_of(route.handler)
        if not replies and sub_id is not None:
            self._answer_subscriber(session, ctx.destination, sub_id, result)
            return
        if not replies:
            path = self._strip(ctx.destination, self.app_prefixes) or ""
            replies = (Reply((f"{self.broker_prefixes[0]}/{path}",)),)
        for reply in replies:  # @send_to and @send_to_user on one handler: both deliver
            for template in reply.destinations:
                destination = template.format(**ctx.variables) if ctx.variables else template
                if reply.to_user:
                    self._to_own_user(session, destination, result, None, reply.broadcast)
                else:
                    self._publish(destination, result, None)

    def _to_own_user(
        self,
        session: ServerSession,
        destination: str,
        payload: Any,
        headers: Mapping[str, str] | None,
        broadcast: bool,
    ) -> None:
        """To the user of ``session``: all its sessions, or with ``broadcast`` False (or
        for an anonymous session, reachable through itself only) this one."""
        state = self._sessions.get(session)
        if state is not None:
            only = None if broadcast and state.user is not None else session
            self._send_to_user(state.user or "", destination, payload, headers, only)

    def _answer_subscriber(
        self, session: ServerSession, destination: str, sub_id: str, result: Any
    ) -> None:
        body, content_type = encode_payload(result)
        headers = [
            ("destination", destination),
            ("subscription", sub_id),
            ("message-id", f"app-{next(self._ids)}"),
        ]
        if content_type:
            headers.append(("content-type", content_type))
        session.write_frame(Frame("MESSAGE", tuple(headers), body))

    def _send_to_named_user(self, session: ServerSession, frame: Frame, destination: str) -> None:
        """SEND to ``/user/<name>/queue/x``: to that user's sessions subscribed to it."""
        rest = self._strip(destination, (self.user_prefix,)) or ""
        user, _, target = rest.partition("/")
        if not user or not target:
            raise BrokerError(
                "invalid user destination",
                f"{destination}: send to {self.user_prefix}/<user>/queue/<name>",
            )
        check_user_id(frame.headers, session.identity.name if session.identity else None)
        headers = dict(reversed(sender_headers(frame.headers)))  # first of a repeat wins
        if session.identity is not None:
            headers["user-id"] = session.identity.name
        self._send_to_user(user, "/" + target, frame.body, headers, only=None)
        session.send_receipt(frame)

    @staticmethod
    def _vouched(session: ServerSession, frame: Frame) -> Frame:
        """A SEND for a handler with only what the broker vouches for in the headers it
        owns: a ``user-id`` naming someone else is refused, the sender's own stamped,
        and the rest of those (``message-id``, ``session``...) dropped."""
        identity = session.identity
        check_user_id(frame.headers, identity.name if identity else None)
        headers = [h for h in frame.headers if h[0] not in OWNED_HEADERS]
        if identity is not None:
            headers.append(("user-id", identity.name))
        return Frame(frame.command, tuple(headers), frame.body)

    def _emit(self, kind: str, session: ServerSession, frame: Frame | None = None) -> None:
        listeners = self._listeners[kind]
        if not listeners:
            return
        event = SessionEvent(kind, session, frame)
        for listener in listeners:
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            except Exception:
                log.exception("%s listener failed", kind)

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
        ``new SockJS("/portfolio")``, over WebSocket or whatever fallback gets through.
        Origin checks and authentication are those of :attr:`asgi`."""
        if self._sockjs is None:
            from stompbox.server.sockjs import sockjs_endpoint

            self._sockjs = sockjs_endpoint(self.registry)
        return self._sockjs

    @contextlib.asynccontextmanager
    async def serve_tcp(self, **overrides: Any) -> AsyncIterator[TcpServer]:
        """Run TCP (and WebSocket unless ``ws_port=0``) listeners for this app."""
        config = self.config
        for name, value in overrides.items():
            setattr(config, name, value)
        async with start_server(registry=self.registry) as server:
            yield server

    def users(self) -> dict[str, int]:
        """Connected users and how many sessions each has (Spring's user registry)."""
        return {user: len(sessions) for user, sessions in self._users.items()}


async def _invoke(signature: Signature, ctx: Context) -> Any:
    result = signature.handler(**signature.arguments(ctx))
    if signature.is_async or inspect.isawaitable(result):
        result = await result
    return result
