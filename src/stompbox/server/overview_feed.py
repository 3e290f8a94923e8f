"""The overview feed: a JSON snapshot of the server, published once a second to a system
topic (:data:`OVERVIEW_TOPIC`) while somebody subscribes to it, for the web console.

It costs nothing while nobody watches: the timer runs only after a SUBSCRIBE to the
topic, and stops at the first tick that finds no subscriber left. The topic is the
server's own: no client may SEND to it, and with users configured only a user with the
management role may SUBSCRIBE to it, by its name or by a wildcard that reaches it (which
would otherwise hear the snapshots). The SUBSCRIBE rule is asked by every session before
the access rules (:attr:`~stompbox.server.gate.Gatekeeper.guard`); the SEND rule is the
broker's (``Broker.server_only``), one set lookup per SEND.

The snapshot has the shape of the admin API's ``GET /api/overview``; its rates are over
the last second rather than the API's five-second sampling, and leave out the feed's own
messages (which the totals, as the broker counts them, include).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from stompbox.broker import BrokerError, Session
from stompbox.broker.config import DestinationKind
from stompbox.broker.matching import TopicIndex
from stompbox.security.principal import Principal

from .admin import overview

if TYPE_CHECKING:
    from .registry import SessionRegistry

__all__ = ["OVERVIEW_TOPIC", "OverviewFeed"]

log = logging.getLogger("stompbox.server")

OVERVIEW_TOPIC: Final = "/topic/stompbox.overview"
"""Where the snapshots go; the console subscribes to it over ``/ws``."""


class OverviewFeed:
    """Publishes :meth:`snapshot` to ``topic`` every ``interval`` seconds while it has
    subscribers, and guards the topic (see the module docstring).

    ``role`` is what a user needs to SUBSCRIBE when the server has users. A topic no
    configured topic prefix covers cannot be served: the feed stays off and a SUBSCRIBE
    gets the broker's own ``unknown destination``.
    """

    def __init__(
        self,
        registry: SessionRegistry,
        role: str,
        topic: str = OVERVIEW_TOPIC,
        interval: float = 1.0,
    ) -> None:
        self.registry = registry
        self.role = role
        self.topic = topic
        self.interval = interval
        self.started = time.monotonic()
        """Uptime counts from here: the management listener starts with the server."""
        self.restricted = registry.gate.policy.users is not None
        """Whether SUBSCRIBE needs ``role`` (as the management listener's routes do)."""
        self.watchers: set[Session] = set()
        """The broker sessions subscribed to the topic by its name, as of the last tick."""
        self.snapshots = 0
        """Snapshots published so far."""
        self._prefix: str | None = None
        try:
            prefix, kind, _ = registry.broker.route(topic)
        except BrokerError:
            log.warning("overview feed off: %s is under no configured prefix", topic)
        else:
            if kind is DestinationKind.TOPIC:
                self._prefix = prefix
        registry.broker.server_only.add(topic)  # no client SENDs to it (the broker says so)
        self._timer: asyncio.Handle | None = None
        self._look = False  # a SUBSCRIBE came: find the subscribers again at the next tick
        self._last: tuple[float, int, int] | None = None  # time, published, delivered
        self._own = (0, 0)  # published and delivered by the feed itself

    # -- the rules, asked by every session ------------------------------------------------

    def authorize(self, identity: Principal | None, command: str, destination: str) -> None:
        """Refuse (:class:`BrokerError`) a SUBSCRIBE that reaches the topic without the
        role when that is needed; a SUBSCRIBE to it starts the feed. (The session asks for
        SUBSCRIBEs only: the broker refuses SENDs to the topic, a ``server_only`` name.)"""
        exact = destination == self.topic
        if not exact and not self._reaches(destination):
            return
        if self.restricted and (identity is None or self.role not in identity.roles):
            who = f"user {identity.name!r}" if identity is not None else "an anonymous client"
            reach = "" if exact else f", which reaches {self.topic},"
            raise BrokerError(
                "access denied",
                f"SUBSCRIBE to {destination}{reach} needs the {self.role!r} role; "
                f"{who} does not have it",
            )
        if exact and self._prefix is not None:
            self._look = True
            self._start()

    def _reaches(self, pattern: str) -> bool:
        """Whether a wildcard subscription to ``pattern`` would hear the topic."""
        if self._prefix is None or not pattern.startswith(self._prefix):
            return False
        index: TopicIndex[int] = TopicIndex(self.registry.broker.config.separator)
        index.add(pattern, self._prefix, 0)
        return bool(index.match(self.topic, self._prefix))

    # -- the timer --------------------------------------------------------------------

    def _start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self._look:
            self._look = False
            self.watchers = {
                session for session in self.registry.broker.sessions.values() if self._on(session)
            }
        else:
            self.watchers = {session for session in self.watchers if self._on(session)}
        if not self.watchers:
            self._last = None
            return
        self.publish()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def _on(self, session: Session) -> bool:
        return not session.closed and any(
            sub.destination == self.topic for sub in session.subscriptions.values()
        )

    def close(self) -> None:
        """Stop the timer (the server is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the snapshot -----------------------------------------------------------------

    def publish(self, now: float | None = None) -> None:
        """Publish one snapshot; ``now`` is a :func:`time.monotonic` reading."""
        broker = self.registry.broker
        stats = broker.stats
        body = json.dumps(self.snapshot(time.monotonic() if now is None else now)).encode()
        published, delivered = stats.published, stats.delivered
        try:
            broker.publish(self.topic, (("content-type", "application/json"),), body)
        except BrokerError as exc:
            log.warning("overview feed: %s: %s", exc.message, exc.detail)
            return
        self.snapshots += 1
        own_published, own_delivered = self._own
        self._own = (
            own_published + stats.published - published,
            own_delivered + stats.delivered - delivered,
        )

    def snapshot(self, now: float) -> dict[str, Any]:
        """The server now, as ``GET /api/overview`` answers; rates since the last one."""
        registry = self.registry
        broker = registry.broker
        stats = broker.stats
        published = stats.published - self._own[0]
        delivered = stats.delivered - self._own[1]
        rates = {"published_per_second": 0.0, "delivered_per_second": 0.0}
        last = self._last
        if last is not None and now > last[0]:
            span = now - last[0]
            rates["published_per_second"] = round(max(0, published - last[1]) / span, 3)
            rates["delivered_per_second"] = round(max(0, delivered - last[2]) / span, 3)
        self._last = (now, published, delivered)
        return overview(registry, now - self.started, rates)
