"""Where a handler's return value goes: to the request's ``reply-to`` when it has one
(RPC, as Spring AMQP and RabbitMQ do it: it wins over the rest), else ``@send_to``,
``@send_to_user``, a route's ``reply``, the default (the first broker prefix and the same
path), or, for a SUBSCRIBE handler without one, straight back to that subscription."""

from __future__ import annotations

import itertools
from typing import Any

from stompbox.broker import BrokerError
from stompbox.broker.temporary import TEMP_PREFIX
from stompbox.protocol import Frame
from stompbox.server.session import ServerSession

from .api import replies_of
from .conversion import encode_payload
from .params import Context
from .routing import MessageRoute, Reply
from .template import Template
from .users import UserDestinations, strip_prefix

__all__ = ["ReplyRouter"]


class ReplyRouter:
    """Routes handlers' results; every reply of a handler delivers (they compose)."""

    def __init__(
        self,
        template: Template,
        users: UserDestinations,
        app_prefixes: tuple[str, ...],
        broker_prefixes: tuple[str, ...],
    ) -> None:
        self.template = template
        self.users = users
        self.app_prefixes = app_prefixes
        self.broker_prefixes = broker_prefixes
        self._ids = itertools.count(1)

    def replies(self, route: MessageRoute) -> tuple[Reply, ...]:
        """A route's own ``reply``, then its handler's decorators'."""
        own = (route.reply,) if route.reply is not None else ()
        return own + replies_of(route.handler)

    def route(
        self,
        route: MessageRoute,
        result: Any,
        ctx: Context,
        session: ServerSession,
        sub_id: str | None,
    ) -> None:
        if result is None:
            return
        if sub_id is None:
            reply_to = ctx.frame.get("reply-to")
            if reply_to:
                self.answer_request(session, ctx.frame, reply_to, result)
                return
        replies = self.replies(route)
        if not replies and sub_id is not None:
            self.answer_subscriber(session, ctx.destination, sub_id, result)
            return
        if not replies:
            path = strip_prefix(ctx.destination, self.app_prefixes) or ""
            replies = (Reply((f"{self.broker_prefixes[0]}/{path}",)),)
        for reply in replies:
            for template in reply.destinations:
                destination = template.format(**ctx.variables) if ctx.variables else template
                if reply.to_user:
                    self.users.send_to_own(session, destination, result, None, reply.broadcast)
                else:
                    self.template.publish(destination, result, None)

    def resolve_reply_to(self, session: ServerSession, frame: Frame) -> Frame:
        """A request's ``reply-to:/temp-queue/x`` as the broker rewrites a SEND's: the
        sender's own temporary queue, which it is subscribed to from now on, so that the
        handler (and its ``headers``) sees the name it answers to. Through a relay the
        header stays as it came (the external broker's temporary queues are its own)."""
        reply_to = frame.get("reply-to")
        if (
            reply_to is None
            or not reply_to.startswith(TEMP_PREFIX)
            or self.template.relay is not None
            or session.session is None
        ):
            return frame
        queue = self.template.broker.temporary.reply_to(session.session, reply_to)
        return frame.with_headers([("reply-to", queue)])

    def answer_request(
        self, session: ServerSession, frame: Frame, reply_to: str, result: Any
    ) -> None:
        """Send ``result`` to the request's ``reply-to`` with its ``correlation-id``. A
        destination of the sender's own (its temporary queue) always takes it; another
        takes it only if the sender could have sent there itself (not another
        connection's private destination, and the access rules allow it).

        Through a relay, a ``/temp-queue/`` reply-to is answered straight to the sender,
        on the subscription RabbitMQ and stompbox would have made for it: the request came
        to this handler, so the relayed broker never saw that reply-to and has no such
        queue."""
        correlation = frame.get("correlation-id")
        if self.template.relay is not None and reply_to.startswith(TEMP_PREFIX):
            extra = (("correlation-id", correlation),) if correlation is not None else ()
            self.answer_subscriber(session, reply_to, reply_to, result, extra)
            return
        broker = self.template.broker
        owner = broker.owner(reply_to)
        if owner is None or owner is not session.session:  # not its own temporary queue
            if owner is not None and not broker.temporary.holds(reply_to):
                raise BrokerError(
                    "access denied", f"reply-to {reply_to} belongs to another connection"
                )
            acl = session.gate.policy.acl
            if acl is not None and not acl.allows(session.identity, "send", reply_to):
                raise BrokerError(
                    "access denied", f"reply-to {reply_to}: this connection may not send there"
                )
        headers = {"correlation-id": correlation} if correlation is not None else None
        self.template.publish(reply_to, result, headers)

    def answer_subscriber(
        self,
        session: ServerSession,
        destination: str,
        sub_id: str,
        result: Any,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Spring's ``@SubscribeMapping``: once, to that subscription only."""
        body, content_type = encode_payload(result)
        headers = [
            ("destination", destination),
            ("subscription", sub_id),
            ("message-id", f"app-{next(self._ids)}"),
            *extra,
        ]
        if content_type:
            headers.append(("content-type", content_type))
        session.write_frame(Frame("MESSAGE", tuple(headers), body))
