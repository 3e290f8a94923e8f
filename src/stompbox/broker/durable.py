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
from .memory import MemoryBudget
from .message import Message
from .priority import DEFAULT_PRIORITY
from .queues import QueueDestination
from .session import Session, Subscription
from .store import MessageStore, StoreError

__all__ = [
    "DURABLE_ROOT",
    "DurableBinding",
    "DurableKey",
    "DurableSubscriptions",
    "durable_copy",
]

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
    at most ``max_durable_subscriptions`` of them, and a client makes a new one only
    while its user owns fewer than ``max_durable_subscriptions_per_user``."""

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

    def bind(
        self, key: DurableKey, destination: str, prefix: str, store: MessageStore | None
    ) -> DurableBinding:
        """Make a new binding, stored (if there is a store) before it is used; refused
        past its user's limit. (A restart restores every stored binding with :meth:`add`,
        whatever the limit is now.)"""
        limit = self._config.max_durable_subscriptions_per_user
        user = key[0]
        # counted when one is made (rare, and at most max_durable_subscriptions to count)
        if sum(1 for owner, _, _ in self.bindings if owner == user) >= limit:
            raise BrokerError(
                f"max_durable_subscriptions_per_user limit of {limit} exceeded",
                f"{'user ' + repr(user) if user else 'anonymous clients'} already own "
                f"{limit} durable subscriptions; remove one (UNSUBSCRIBE with durable:true "
                "or activemq.subscriptionName) first",
            )
        binding = self.add(key, destination, prefix)
        if store is not None:
            try:
                store.bind(binding.queue, key, destination)
            except StoreError as exc:
                self.remove(binding)
                log.error("%s", exc)
                raise BrokerError("store failed", "the durable subscription was not made") from None
        return binding

    def unbind(self, binding: DurableBinding, store: MessageStore | None) -> None:
        """Remove a binding, from the store too; its queue is the broker's to drop."""
        self.remove(binding)
        if store is not None:
            try:
                store.unbind(binding.queue)
            except StoreError as exc:  # its messages go; the binding comes back, empty
                log.error("%s", exc)

    def refusal(
        self, queue: QueueDestination[Subscription, Session], size: int, memory: MemoryBudget
    ) -> str | None:
        """Why a binding's ``queue`` cannot take a copy of ``size`` body bytes, if it
        cannot: it is full, or the memory budget is spent while the copy would wait."""
        config = self._config
        if len(queue.backlog) >= config.queue_max_messages:
            return f"its queue holds queue_max_messages={config.queue_max_messages}"
        if queue.backlog_bytes + size > config.queue_max_bytes:
            return f"its queue would pass queue_max_bytes={config.queue_max_bytes}"
        if memory.over and (queue.backlog or not queue.consumers):
            return f"the memory budget is spent ({memory.describe()})"
        return None

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


def durable_copy(
    binding: DurableBinding, message: Message, queue: QueueDestination[Subscription, Session]
) -> Message:
    """A copy of a topic message for a binding's ``queue``, showing the topic, with the
    queue told of its deadline and priority."""
    copy = Message(binding.queue, message.id, message.headers, message.body)
    copy.shown_destination = message.destination
    copy.deadline, copy.priority = message.deadline, message.priority
    if copy.deadline is not None:
        queue.earliest = min(queue.earliest, copy.deadline)
    if copy.priority != DEFAULT_PRIORITY:
        queue.use_priorities()
    return copy
