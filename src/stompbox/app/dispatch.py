"""Frames of an application's sessions: which go to handlers, which to user destinations,
which to the broker (or the relayed one); handlers run one after another per session, and
their errors are reported without closing the session."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from stompbox.broker import Broker, BrokerError
from stompbox.broker.message import OWNED_HEADERS, vouched_headers
from stompbox.protocol import Frame
from stompbox.relay import RelayUnavailable
from stompbox.relay.frames import RELAYED_USER, to_broker
from stompbox.relay.names import reaches_reserved
from stompbox.server.session import ServerSession

from .conversion import ConversionError
from .hooks import Hooks
from .params import Context, Signature
from .replies import ReplyRouter
from .routing import MessageRoute, Router
from .template import Template
from .users import UserDestinations, strip_prefix

__all__ = ["Dispatcher"]

log = logging.getLogger("stompbox.app")

_RELAYED = frozenset(
    {"SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT"}
)

RELAYED_OWNED = OWNED_HEADERS | {RELAYED_USER}
"""What a relayed SEND may not carry of its own."""

Job = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Jobs:
    """One session's handler calls, run in order, and its subscriptions to handlers."""

    queue: asyncio.Queue[Job] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    app_subscriptions: set[str] = field(default_factory=set)


class Dispatcher:
    """Routes each frame of a connected session (after the inbound interceptors)."""

    def __init__(
        self,
        broker: Broker,
        router: Router,
        replies: ReplyRouter,
        users: UserDestinations,
        template: Template,
        hooks: Hooks,
        app_prefixes: tuple[str, ...],
    ) -> None:
        self.broker = broker
        self.router = router
        self.replies = replies
        self.users = users
        self.template = template
        self.hooks = hooks
        self.app_prefixes = app_prefixes
        self.strict_errors = False
        """An application error closes the session with an ERROR instead of a report."""
        self.error_destination = "/queue/errors"
        """The user destination where a session hears of the errors of its frames."""
        self._sessions: dict[ServerSession, _Jobs] = {}

    def add(self, session: ServerSession) -> None:
        self._sessions[session] = _Jobs()

    def remove(self, session: ServerSession) -> bool:
        """Forget ``session``; False if it was not there."""
        jobs = self._sessions.pop(session, None)
        if jobs is None:
            return False
        if jobs.worker is not None:
            jobs.worker.cancel()
        return True

    # -- frames ------------------------------------------------------------------------

    def inbound(self, session: ServerSession, frame: Frame) -> Frame | None:
        """The frame for the broker (maybe changed), or None when handled here."""
        jobs = self._sessions.get(session)
        if jobs is None:
            return frame
        command = frame.command
        relaying = self.template.relay
        relay = relaying.client(session) if relaying is not None else None
        if relay is not None and command in ("SEND", "SUBSCRIBE"):
            self._check_relayed(session, command, frame.get("destination") or "")
        if command == "SEND":
            if self._send(session, jobs, frame):
                return None
        elif command == "SUBSCRIBE":
            destination = frame.get("destination") or ""
            sub_id = frame.get("id") or destination
            path = strip_prefix(destination, self.app_prefixes)
            if path is not None:
                jobs.app_subscriptions.add(sub_id)
                self.hooks.emit("subscribe", session, frame)
                self._enqueue(jobs, self._job(session, frame, destination, path, sub_id))
                return None
            resolved = self.users.subscribe(session, sub_id, destination)
            if resolved is not None:
                private = self.users.private_headers(resolved)
                frame = frame.with_headers([("destination", resolved), *private])
            self.hooks.emit("subscribe", session, frame)
        elif command == "UNSUBSCRIBE":
            sub_id = frame.get("id") or frame.get("destination") or ""
            self.hooks.emit("unsubscribe", session, frame)
            if sub_id in jobs.app_subscriptions:
                jobs.app_subscriptions.discard(sub_id)
                session.send_receipt(frame)
                return None
            self.users.unsubscribe(session, sub_id)
        if relay is not None and (command in _RELAYED or command == "DISCONNECT"):
            if command == "SEND":
                frame = to_broker(_vouched(session, frame, RELAYED_OWNED))
            try:  # the external broker answers, receipts included
                return None if relay.send(frame) else frame
            except RelayUnavailable as exc:
                raise BrokerError(exc.message, exc.detail) from None
        return frame

    def _check_relayed(self, session: ServerSession, command: str, destination: str) -> None:
        """What the external broker cannot refuse itself: the names stompbox keeps there
        (private user destinations, the instances' topics), by name or by wildcard, and
        destinations this instance reserved for another session."""
        owner = self.broker.owner(destination)
        relaying = self.template.relay
        assert relaying is not None
        if (
            (owner is not None and owner is not session.session)
            or reaches_reserved(destination)
            or relaying.settings.internal(destination)
        ):
            raise BrokerError(
                "access denied",
                f"{command} to {destination} is not allowed: through the relay, names "
                "starting with 'stompbox.' and wildcards in a destination's first word "
                "are refused (they reach other users' private destinations)",
            )

    def _send(self, session: ServerSession, jobs: _Jobs, frame: Frame) -> bool:
        """Handle a SEND to a handler or a user destination; False if it is the broker's."""
        destination = frame.get("destination") or ""
        path = strip_prefix(destination, self.app_prefixes)
        to_user = path is None and strip_prefix(destination, (self.users.prefix,)) is not None
        if not (path is not None or to_user):
            return False
        if frame.get("transaction") is not None:
            raise BrokerError(  # refused, rather than done at once and not undone by ABORT
                "transactions hold SENDs to broker destinations only",
                f"{destination} is handled by the application at once; send it outside "
                "the transaction",
            )
        if path is not None:
            frame = self.replies.resolve_reply_to(session, _vouched(session, frame))
            self._enqueue(jobs, self._job(session, frame, destination, path))
        else:
            self.users.send_from_client(session, frame, destination)
        return True

    # -- handlers, one after another per session ---------------------------------------

    def _enqueue(self, jobs: _Jobs, job: Job) -> None:
        """Run jobs of one session one after another, so replies keep the client's order."""
        jobs.queue.put_nowait(job)
        if jobs.worker is None or jobs.worker.done():
            jobs.worker = asyncio.get_running_loop().create_task(_work(jobs))

    def _job(
        self,
        session: ServerSession,
        frame: Frame,
        destination: str,
        path: str,
        sub_id: str | None = None,
    ) -> Job:
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
            if await self._call(route, ctx, session, frame, sub_id):
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
        """Run a handler and route its result; False when it failed (and was reported)."""
        try:
            result = await invoke(route.signature, ctx)
            self.replies.route(route, result, ctx, session, sub_id)
        except Exception as exc:
            return await self._handle_exception(exc, ctx, session, frame)
        return True

    async def _handle_exception(
        self, exc: Exception, ctx: Context, session: ServerSession, frame: Frame
    ) -> bool:
        route = self.router.exception_route(exc)
        if route is not None:
            ctx.exception = exc
            try:
                result = await invoke(route.signature, ctx)
                self.replies.route(route, result, ctx, session, None)
            except Exception as inner:
                log.exception("exception handler failed")
                detail = f"{type(inner).__name__}: {inner}"
                self._report(session, frame, ctx.destination, "application error", detail)
                return False
            return True
        if isinstance(exc, ConversionError):
            message, detail = "invalid payload", f"{ctx.destination}: {exc}"
        elif isinstance(exc, (BrokerError, RelayUnavailable)):
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
        try:
            self.users.send_to_own(
                session, self.error_destination, detail, headers, broadcast=False
            )
        except RelayUnavailable:  # the report cannot reach the relayed broker either
            session.error(message, detail, frame=frame)


async def _work(jobs: _Jobs) -> None:
    while not jobs.queue.empty():
        job = jobs.queue.get_nowait()
        await job()


async def invoke(signature: Signature, ctx: Context) -> Any:
    """Call a handler with the arguments its signature asks for; await it if async."""
    result = signature.handler(**signature.arguments(ctx))
    if signature.is_async or inspect.isawaitable(result):
        result = await result
    return result


def _vouched(session: ServerSession, frame: Frame, drop: frozenset[str] = OWNED_HEADERS) -> Frame:
    """A SEND for a handler with only what the broker vouches for in the headers it owns:
    a ``user-id`` naming someone else is refused, the sender's own stamped, and the rest
    of those (``message-id``, ``session``...) dropped."""
    identity = session.identity
    headers = vouched_headers(frame.headers, identity.name if identity else None, drop)
    return Frame(frame.command, tuple(headers), frame.body)
