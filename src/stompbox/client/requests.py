"""Request/reply over a temporary queue: :meth:`Client.request <stompbox.client.Client.request>`.

Every request of a client names the same ``reply-to:/temp-queue/...``: the broker
(stompbox, or RabbitMQ through a relay) rewrites it into a queue only this connection
reads, and subscribes the connection to it with the subscription id ``/temp-queue/...``,
so no SUBSCRIBE is sent and nothing needs doing again after a reconnection (the next
request makes the queue anew). Replies are matched to requests by ``correlation-id``; a
reply that comes after its request gave up is dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets

from stompbox.protocol import Frame

from .handles import ClientLink, Message, Subscription

__all__ = ["REPLY_QUEUE", "PendingRequests"]

log = logging.getLogger("stompbox.client")

REPLY_QUEUE = "/temp-queue/client-replies"
"""The ``reply-to`` of every request (its first word is not ``stompbox``, which a relay
keeps for its own names)."""


class PendingRequests:
    """A client's requests waiting for replies, keyed by ``correlation-id``."""

    __slots__ = ("_ids", "_prefix", "_subscription", "_waiting")

    def __init__(self, link: ClientLink) -> None:
        self._waiting: dict[str, asyncio.Future[Message]] = {}
        self._prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._subscription = Subscription(link, REPLY_QUEUE, REPLY_QUEUE, "auto", {}, 1)
        """What replies are handed out on: the broker's implicit subscription (auto ack)."""

    def __len__(self) -> int:
        return len(self._waiting)

    def open(self) -> tuple[str, asyncio.Future[Message]]:
        """A new correlation id and the future its reply will complete."""
        correlation = f"{self._prefix}-{next(self._ids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[correlation] = future
        return correlation, future

    def close(self, correlation: str) -> None:
        """The request ended (answered, timed out, cancelled): a later reply is dropped."""
        self._waiting.pop(correlation, None)

    def take(self, frame: Frame, generation: int) -> bool:
        """Whether ``frame`` (a MESSAGE) is a reply of the reply queue; if it answers a
        waiting request, that request gets it."""
        if frame.get("subscription") != REPLY_QUEUE:
            return False
        correlation = frame.get("correlation-id") or ""
        future = self._waiting.pop(correlation, None)
        if future is None or future.done():
            log.debug("reply %r came after its request ended; dropped", correlation)
            return True
        future.set_result(Message(frame, self._subscription, generation))
        return True

    def fail(self, error: BaseException) -> None:
        """The connection was lost: its temporary queue went with it, and so did every
        reply still to come."""
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)
