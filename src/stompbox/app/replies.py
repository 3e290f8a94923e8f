"""Where a handler's return value goes: ``@send_to``, ``@send_to_user``, a route's
``reply``, the default (the first broker prefix and the same path), or, for a SUBSCRIBE
handler without one, straight back to that subscription."""

from __future__ import annotations

import itertools
from typing import Any

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

    def answer_subscriber(
        self, session: ServerSession, destination: str, sub_id: str, result: Any
    ) -> None:
        """Spring's ``@SubscribeMapping``: once, to that subscription only."""
        body, content_type = encode_payload(result)
        headers = [
            ("destination", destination),
            ("subscription", sub_id),
            ("message-id", f"app-{next(self._ids)}"),
        ]
        if content_type:
            headers.append(("content-type", content_type))
        session.write_frame(Frame("MESSAGE", tuple(headers), body))
