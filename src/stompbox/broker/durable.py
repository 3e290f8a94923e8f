"""Durable topic subscriptions: a topic subscription that keeps its messages while away.

Each one is a binding of (owner, name) to a topic destination (wildcards allowed),
backed by a queue private to the broker, ``/queue/stompbox.durable.<token>`` (the first
word being the one stompbox reserves for its names; the token is random, so the name
cannot be guessed, and is stored with the binding so that it survives a restart).
Publishing to a topic puts a copy of the message in each matching binding's queue; its
subscriber consumes that queue as an ordinary queue subscription (ack modes, prefetch,
redelivery), and its MESSAGE frames show the topic the message was published to.

Two forms name one, as the brokers they come from do:

* RabbitMQ's: ``durable:true`` (``auto-delete`` not ``true``) on SUBSCRIBE; the name is
  ``x-queue-name`` if given, else the subscription ``id``. The owner is the verified user.
* ActiveMQ's: ``activemq.subscriptionName``, with CONNECT's ``client-id`` (refused
  without one, as ActiveMQ does). The owner is the verified user and the client-id.

One session at a time may consume a durable subscription. UNSUBSCRIBE with
``durable:true`` or ``activemq.subscriptionName`` removes it; a plain UNSUBSCRIBE or a
disconnect keeps it.
"""

from __future__ import annotations

import logging
import secrets

from stompbox.protocol.frames import Frame

from .config import BrokerConfig, DestinationKind
from .errors import BrokerError
from .matching import TopicIndex
from .session import Session

__all__ = ["DURABLE_ROOT", "DurableBinding", "DurableKey", "DurableSubscriptions"]

log = logging.getLogger("stompbox.broker")

DURABLE_ROOT = "stompbox.durable."
"""The first words of a backing queue's name, after its queue prefix."""

_LOG_EVERY = 60.0
"""Seconds between two warnings about drops into the same binding."""

DurableKey = tuple[str, str, str]
"""(verified user or ``""``, client-id or ``""`` for RabbitMQ's form, name)."""


class DurableBinding:
    """One durable subscription: who owns it, the topic it listens to, its queue."""

    __slots__ = ("destination", "dropped", "key", "logged_at", "prefix", "queue")

    def __init__(self, key: DurableKey, destination: str, prefix: str, queue: str) -> None:
        self.key = key
        self.destination = destination
        """The topic (or topic pattern) it was subscribed to."""
        self.prefix = prefix
        self.queue = queue
        """Its backing queue's name."""
        self.dropped = 0
        """Messages dropped because its queue was full or the memory budget spent."""
        self.logged_at = float("-inf")


def durable_key(session: Session, frame: Frame, sub_id: str | None) -> DurableKey | None:
    """The durable subscription a SUBSCRIBE or UNSUBSCRIBE names, or None if it names
    none; raises :class:`BrokerError` when a header it needs is missing."""
    user = session.user or ""
    name = frame.get("activemq.subscriptionName")
    if name is not None:
        if not session.client_id:
            raise BrokerError(
                "client-id required",
                f"durable subscription {name!r} (activemq.subscriptionName) needs a "
                "client-id header on CONNECT",
            )
        return (user, session.client_id, name)
    if frame.get("durable") != "true" or frame.get("auto-delete") == "true":
        return None
    name = frame.get("x-queue-name") or sub_id
    if not name:
        raise BrokerError(
            "id required", "a durable subscription (durable:true) is named by its id header"
        )
    return (user, "", name)


class DurableSubscriptions:
    """Every durable subscription, by key, by backing queue, and by topic for matching;
    at most ``max_durable_subscriptions`` of them."""

    __slots__ = ("_closed", "_config", "_index", "_prefix", "bindings", "queues")

    def __init__(self, config: BrokerConfig, closed: set[str]) -> None:
        self._config = config
        self._closed = closed
        """The broker's names closed to client SENDs, which backing queues join (one
        lookup per SEND covers them and the server's own topics)."""
        self.bindings: dict[DurableKey, DurableBinding] = {}
        self.queues: dict[str, DurableBinding] = {}
        """Backing queue name -> its binding."""
        self._index: TopicIndex[DurableBinding] = TopicIndex(config.separator)
        self._prefix = next(
            (p for p, kind in config.prefixes.items() if kind is DestinationKind.QUEUE), None
        )

    def reserved(self, destination: str) -> bool:
        """Whether ``destination`` has a backing queue's form: no client reads or writes
        it by that name."""
        prefix = self._prefix
        return prefix is not None and destination.startswith(prefix + DURABLE_ROOT)

    def match(self, destination: str, prefix: str) -> list[DurableBinding]:
        return self._index.match(destination, prefix)

    def add(
        self, key: DurableKey, destination: str, prefix: str, queue: str | None = None
    ) -> DurableBinding:
        """Make a binding (``queue`` given when restored from the store); past the limit,
        or with no queue prefix configured, refuse it."""
        limit = self._config.max_durable_subscriptions
        if len(self.bindings) >= limit:
            raise BrokerError(
                f"max_durable_subscriptions limit of {limit} exceeded",
                f"the broker holds {len(self.bindings)} durable subscriptions; remove one "
                "(UNSUBSCRIBE with durable:true or activemq.subscriptionName) first",
            )
        if queue is None:
            if self._prefix is None:
                raise BrokerError(
                    "unknown destination",
                    "durable subscriptions need a queue prefix, and none is configured",
                )
            queue = f"{self._prefix}{DURABLE_ROOT}{secrets.token_hex(16)}"
        binding = DurableBinding(key, destination, prefix, queue)
        self.bindings[key] = binding
        self.queues[queue] = binding
        self._closed.add(queue)
        self._index.add(destination, prefix, binding)
        return binding

    def remove(self, binding: DurableBinding) -> None:
        self.bindings.pop(binding.key, None)
        self.queues.pop(binding.queue, None)
        self._closed.discard(binding.queue)
        self._index.remove(binding.destination, binding.prefix, binding)

    def dropped(self, binding: DurableBinding, why: str, now: float) -> None:
        """Count a message dropped for ``binding``; warn at most once a minute for it."""
        binding.dropped += 1
        if now - binding.logged_at >= _LOG_EVERY:
            binding.logged_at = now
            user, client_id, name = binding.key
            log.warning(
                "durable subscription %r (user %r, client-id %r) on %s: dropping new "
                "messages, %s (%d dropped so far)",
                name,
                user,
                client_id,
                binding.destination,
                why,
                binding.dropped,
            )
