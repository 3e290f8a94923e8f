"""What an operator may do to a running broker: look at its queues and subscriptions,
browse a queue, purge one, move dead letters back.

The management API's HTTP layer calls these and only turns their answers into JSON, so
that every rule about the broker's state stays in the broker package (this module reads
the broker's internals, as its own code does). Like the broker, it is synchronous and
used from the event loop only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Final

from .broker import Broker
from .config import DestinationKind
from .durable import DurableBinding
from .errors import BrokerError
from .message import Message
from .queues import QueueDestination
from .session import Session, Subscription

__all__ = [
    "BROWSE_LIMIT",
    "AdminError",
    "BrokerAdmin",
    "BrowsedMessage",
    "DurableInfo",
    "NoSuchQueue",
    "QueueInfo",
    "RequeueResult",
    "SubscriptionInfo",
]

BROWSE_LIMIT: Final = 500
"""The most messages one browse returns: a page, not a copy of a deep queue."""

ORIGINAL_DESTINATION: Final = "original-destination"
"""The header a dead-lettered message carries its first destination in."""
_DEAD_LETTER_REASON: Final = "dead-letter-reason"
_EXPIRY_HEADERS: Final = frozenset({"expires", "expiration"})


def _requeued_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """A dead letter's headers without what the dead-lettering added, and, for one that
    expired, without its expiry: published again with it, it would expire at once."""
    expired = (_DEAD_LETTER_REASON, "expired") in headers
    return tuple(
        h
        for h in headers
        if h[0] != ORIGINAL_DESTINATION
        and h[0] != _DEAD_LETTER_REASON
        and not (expired and h[0] in _EXPIRY_HEADERS)
    )


Queue = QueueDestination[Subscription, Session]


class AdminError(Exception):
    """An operator's request the broker cannot carry out; the message says why."""


class NoSuchQueue(AdminError):
    """The broker holds no queue of that name (it forgets one that is empty and has no
    consumers)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no queue {name}")
        self.name = name


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """One queue at the moment it was read."""

    name: str
    messages: int
    """Waiting, not yet delivered."""
    bytes: int
    """Body bytes of the waiting messages."""
    consumers: int
    unacked: int
    """Delivered to its subscriptions and not acknowledged yet."""
    published: int
    """Accepted into the queue since the broker created it (it is forgotten when empty
    and unsubscribed, and counts again from 0)."""
    delivered: int
    """Handed to consumers since then, redeliveries included."""
    dead_letter: bool
    """Whether it is a dead-letter queue (its name starts with ``dead_letter_prefix``)."""
    durable_subscription: str | None = None
    """The name of the durable subscription it backs, if it is one's queue."""


@dataclass(frozen=True, slots=True)
class DurableInfo:
    """What a durable subscription is, beyond a subscription."""

    name: str
    user: str | None
    """Its owner's verified name; None when it was made anonymously."""
    client_id: str | None
    """CONNECT's ``client-id`` (ActiveMQ's form); None in RabbitMQ's form."""
    queue: str
    """The queue that keeps its messages (also in the queue list)."""
    messages: int
    """Waiting in that queue."""
    active: bool
    """Whether a connection consumes it now."""


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    session: str | None
    """The broker session id of its connection; None for a durable subscription whose
    subscriber is away."""
    id: str
    """Its id; a durable subscription's name while its subscriber is away."""
    destination: str
    """What it subscribed to (a durable subscription's topic, not its queue)."""
    ack: str | None
    unacked: int
    prefetch: int
    """``prefetch-count``; 0 is unbounded."""
    durable: DurableInfo | None = None


@dataclass(frozen=True, slots=True)
class BrowsedMessage:
    """A waiting message as a browse shows it; the message itself stays queued."""

    message_id: str
    headers: tuple[tuple[str, str], ...]
    body: str
    encoding: str
    """``utf-8`` when the body is UTF-8 text, else ``base64``."""
    size: int
    redelivered: bool
    redeliveries: int


@dataclass(frozen=True, slots=True)
class RequeueResult:
    moved: int
    stopped: str | None = None
    """Why it stopped before ``limit`` with messages left, if it did."""


class BrokerAdmin:
    """Operator actions over one :class:`Broker`."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    # -- reading -------------------------------------------------------------------------

    def queue_objects(self) -> dict[str, Queue]:
        """The broker's queues by name: a copy of its table, the queues themselves live."""
        return dict(self.broker._queues)

    def queues(self) -> list[QueueInfo]:
        """Every queue the broker holds now, by name."""
        return [self._info(queue) for _, queue in sorted(self.broker._queues.items())]

    def queue(self, name: str) -> QueueInfo:
        return self._info(self._find(name))

    def subscriptions(self) -> list[SubscriptionInfo]:
        """Every subscription of every connected session, then every durable subscription
        whose subscriber is away."""
        by_queue = self.broker.durable.queues
        found = []
        for session in self.broker.sessions.values():
            for sub in session.subscriptions.values():
                binding = by_queue.get(sub.destination) if sub.queue is not None else None
                found.append(
                    SubscriptionInfo(
                        session.id,
                        sub.id,
                        sub.destination if binding is None else binding.destination,
                        sub.ack,
                        len(sub.unacked),
                        sub.prefetch,
                        None if binding is None else self._durable(binding),
                    )
                )
        for binding in self.broker.durable.bindings.values():
            info = self._durable(binding)
            if not info.active:
                found.append(
                    SubscriptionInfo(None, info.name, binding.destination, None, 0, 0, info)
                )
        return found

    def _durable(self, binding: DurableBinding) -> DurableInfo:
        user, client_id, name = binding.key
        queue = self.broker._queues.get(binding.queue)
        return DurableInfo(
            name,
            user or None,
            client_id or None,
            binding.queue,
            len(queue.backlog) if queue is not None else 0,
            queue is not None and bool(queue.consumers),
        )

    def is_dead_letter_queue(self, name: str) -> bool:
        try:
            prefix, kind, _ = self.broker.route(name)
        except BrokerError:
            return False
        dead = self.broker.config.dead_letter_prefix
        return kind is DestinationKind.QUEUE and name[len(prefix) :].startswith(dead)

    def browse(self, name: str, limit: int = 20) -> list[BrowsedMessage]:
        """The first ``limit`` waiting messages, in the order they would be delivered,
        without taking them."""
        if not 1 <= limit <= BROWSE_LIMIT:
            raise AdminError(f"limit must be between 1 and {BROWSE_LIMIT}, not {limit}")
        return [_browsed(message) for message in islice(self._find(name).backlog, limit)]

    # -- changing ------------------------------------------------------------------------

    def purge(self, name: str) -> int:
        """Drop every waiting message (delivered, unacked ones stay with their consumers);
        their memory and stored copies go as a consumed message's do. Returns how many."""
        broker = self.broker
        queue = self._find(name)
        count = 0
        while queue.backlog:
            broker._forget(queue.pop())
            count += 1
        broker._dispatch(queue)  # wakes producers paused on its depth
        return count

    def requeue(self, name: str, to: str | None = None, limit: int = 1000) -> RequeueResult:
        """Move up to ``limit`` messages from the head of dead-letter queue ``name``, in
        order, to their ``original-destination`` or to ``to``: each is published anew
        (persistent ones stored again), with a fresh delivery count, and only then
        forgotten here. Stops early at a message with nowhere to go or refused there
        (a full queue), which stays at the head."""
        if limit < 1:
            raise AdminError(f"limit must be at least 1, not {limit}")
        queue = self._find(name)
        if to is None and not self.is_dead_letter_queue(name):
            raise AdminError(
                f"{name} is not a dead-letter queue: give 'to', the destination to move "
                "its messages to"
            )
        if to is not None:
            self._check_target(to, name)
        broker = self.broker
        moved = 0
        for message in _heads(queue, limit):
            target = to or _original_destination(message)
            if target is None:
                queue.push_front([message])
                return RequeueResult(
                    moved,
                    f"message {message.id} has no {ORIGINAL_DESTINATION} header; "
                    "give 'to' to move it",
                )
            headers = _requeued_headers(message.headers)
            try:
                broker.publish(target, headers, message.body)
            except BrokerError as exc:
                queue.push_front([message])
                return RequeueResult(moved, f"{target} refused message {message.id}: {exc}")
            broker._forget(message)
            moved += 1
        broker._dispatch(queue)
        return RequeueResult(moved)

    # -- helpers -------------------------------------------------------------------------

    def _find(self, name: str) -> Queue:
        queue = self.broker._queues.get(name)
        if queue is None:
            raise NoSuchQueue(name)
        return queue

    def _check_target(self, to: str, source: str) -> None:
        try:
            _, _, wildcard = self.broker.route(to)
        except BrokerError as exc:
            raise AdminError(f"'to': {exc.detail or exc}") from None
        if wildcard:
            raise AdminError(f"'to' cannot hold wildcards: {to}")
        if to == source:
            raise AdminError(f"'to' is the queue the messages are in: {to}")

    def _info(self, queue: Queue) -> QueueInfo:
        return QueueInfo(
            queue.name,
            len(queue.backlog),
            queue.backlog_bytes,
            len(queue.consumers),
            sum(len(sub.unacked) for sub in queue.consumers),
            queue.published,
            queue.delivered,
            self.is_dead_letter_queue(queue.name),
            durable.key[2] if (durable := self.broker.durable.queues.get(queue.name)) else None,
        )


def _heads(queue: Queue, limit: int) -> Iterator[Message]:
    """Take messages from the head, one at a time, while there are any, up to ``limit``."""
    for _ in range(limit):
        if not queue.backlog:
            return
        yield queue.pop()


def _original_destination(message: Message) -> str | None:
    for header, value in message.headers:
        if header == ORIGINAL_DESTINATION:
            return value
    return None


def _browsed(message: Message) -> BrowsedMessage:
    try:
        body, encoding = message.body.decode(), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(message.body).decode(), "base64"
    return BrowsedMessage(
        message.id,
        tuple(message.headers),
        body,
        encoding,
        len(message.body),
        message.redeliveries > 0,
        message.redeliveries,
    )
