"""Temporary queues: ``/temp-queue/<name>`` is private to the session that uses it.

As RabbitMQ's STOMP adapter does, each session's ``/temp-queue/x`` is a queue of its own
under a generated name (``/queue/stompbox.temp.<token>.x``, the first word being the one
stompbox reserves for its names), so that two sessions may both use ``/temp-queue/x``
without meeting. A SEND's ``reply-to:/temp-queue/x`` is rewritten to that name before the
message is delivered, and the sender is subscribed to it (subscription id
``/temp-queue/x``, auto ack) unless it already is: whoever receives the request answers
to the ``reply-to`` it sees, and only the requester reads the answer. Anybody may SEND to
the generated name; only its session may SUBSCRIBE to it; it goes away with its session,
and the messages left in it with it.

The token is random per session (not the session id, which the generated name would
otherwise show every receiver), so the name tells nothing and cannot be guessed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from stompbox.protocol.frames import Frame

from .config import BrokerConfig, DestinationKind
from .errors import BrokerError
from .session import Session

__all__ = ["TEMP_PREFIX", "TemporaryQueues"]

TEMP_PREFIX = "/temp-queue/"
"""What a client writes; the broker never routes this prefix itself."""

_ROOT = "stompbox.temp."


class TemporaryQueues:
    """Each session's ``/temp-queue/`` names and the queues behind them, bounded per session.

    ``reserve`` makes a generated name its session's (and open to every sender),
    ``subscribe`` carries out a SUBSCRIBE: the broker's own methods, passed in so that
    this module needs nothing else of the broker's.
    """

    __slots__ = ("_config", "_names", "_queues", "_reserve", "_roots", "_subscribe")

    def __init__(
        self,
        config: BrokerConfig,
        reserve: Callable[[str, Session, str], None],
        subscribe: Callable[[Session, Frame], object],
    ) -> None:
        self._config = config
        self._reserve = reserve
        self._subscribe = subscribe
        self._names: dict[Session, tuple[str, dict[str, str]]] = {}
        """Session -> its random token, and its ``/temp-queue/`` names -> queue names."""
        self._queues: set[str] = set()
        """Every generated name in use, for :meth:`holds`."""
        self._roots = tuple(
            f"{prefix}{_ROOT}"
            for prefix, kind in config.prefixes.items()
            if kind is DestinationKind.QUEUE
        )

    def gone(self, destination: str) -> bool:
        """Whether ``destination`` has a generated name's form but no session holds it
        (its session closed): a SEND there is dropped, as RabbitMQ drops a reply to a
        deleted temporary queue, rather than left in a queue nobody will read."""
        return destination.startswith(self._roots) and destination not in self._queues

    def holds(self, destination: str) -> bool:
        """Whether ``destination`` is a temporary queue's generated name."""
        return destination in self._queues

    def queue_of(self, session: Session, destination: str) -> str:
        """The queue behind ``session``'s ``destination`` (``/temp-queue/<name>``), made
        and reserved for the session on first use; past ``max_temp_queues_per_session``
        names a new one is refused."""
        name = destination[len(TEMP_PREFIX) :]
        if not name:
            raise BrokerError(
                "invalid destination", f"{destination!r} names no queue after {TEMP_PREFIX}"
            )
        token, names = self._names.get(session) or ("", {})
        queue = names.get(name)
        if queue is not None:
            return queue
        limit = self._config.max_temp_queues_per_session
        if len(names) >= limit:
            raise BrokerError(
                f"max_temp_queues_per_session limit of {limit} exceeded",
                f"this connection already uses {len(names)} temporary queues; "
                f"{destination} would be one more",
            )
        prefix = next(
            (p for p, kind in self._config.prefixes.items() if kind is DestinationKind.QUEUE),
            None,
        )
        if prefix is None:
            raise BrokerError(
                "unknown destination",
                f"{destination}: temporary queues need a queue prefix, and none is configured",
            )
        if not token:
            token = secrets.token_hex(16)
            self._names[session] = (token, names)
        queue = f"{prefix}{_ROOT}{token}.{name}"
        names[name] = queue
        self._queues.add(queue)
        self._reserve(queue, session, destination)
        return queue

    def reply_to(self, session: Session, destination: str) -> str:
        """Rewrite a SEND's ``reply-to:/temp-queue/<name>``: the generated name, which the
        session is subscribed to first (id ``/temp-queue/<name>``, auto ack, as RabbitMQ
        does) unless one of its subscriptions reads that queue already."""
        queue = self.queue_of(session, destination)
        subscriptions = session.subscriptions
        existing = subscriptions.get(destination)
        if existing is not None and existing.destination == queue:
            return queue
        if any(sub.destination == queue for sub in subscriptions.values()):
            return queue
        self._subscribe(session, Frame("SUBSCRIBE", (("destination", queue), ("id", destination))))
        return queue

    def close(self, session: Session) -> list[str]:
        """Forget ``session``'s temporary queues; return their generated names, for the
        broker to delete with what they hold."""
        _, names = self._names.pop(session, ("", {}))
        queues = list(names.values())
        self._queues.difference_update(queues)
        return queues
