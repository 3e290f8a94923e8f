"""The embedded broker: routing, queues, topics, acks, redelivery and transactions.

The broker has a single owner. Its methods are synchronous, called from the event loop
only, and never await. Deliveries go to each session's :class:`SessionSink`, which frames
and writes them; the broker never sees bytes. No locks, and no event loop needed to test
it.

Flow control: a session whose sink says its output is full stops being handed messages
(queue messages stay in the queue for other consumers, topic messages wait per the
slow-consumer policy) until the server calls :meth:`Broker.output_written` for it.

This module keeps the broker's state and what moves messages through it: the SEND path
(``_publish``, ``publish``, ``_enqueue``, ``_deliver``) and the topic fan-out, which are
measured per message and so call no extra layers, queues' dispatch and redelivery,
sessions and subscriptions. What needs nothing else of the broker's lives beside it and
imports nothing of this module: :mod:`.transactions` (what open transactions hold, within
their limits), :mod:`.acks` (which message an ACK or NACK names), :mod:`.pending` (the
slow-consumer policy), :mod:`.subscriptions` (what a SUBSCRIBE or UNSUBSCRIBE names),
:mod:`.durable`, :mod:`.retention`, :mod:`.temporary`, :mod:`.restore` (a previous run's
persistent messages) and :mod:`.stats`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Final

from stompbox.protocol.frames import Frame
from stompbox.protocol.message import forget_destination_lines
from stompbox.protocol.server import ServerConnection, fan_out

from . import acks, pending, subscriptions, transactions
from .config import BrokerConfig, DestinationKind
from .consumers import consumer_terms
from .durable import (
    DurableBinding,
    DurableKey,
    DurableSubscriptions,
    durable_copy,
    durable_key,
)
from .errors import BrokerError
from .expiry import (
    DEFAULT_PRIORITY,
    DELIVERY_HEADERS,
    check_headers,
    queue_ttl,
    stamp,
    take_expired,
)
from .matching import TopicIndex, has_wildcard, split_destination
from .memory import MESSAGE_OVERHEAD, MemoryBudget
from .message import BROKER_HEADERS, Message, check_user_id
from .queues import QueueDestination
from .restore import stored_messages
from .retention import Retention, parse_resume
from .session import Session, SessionSink, Subscription
from .stats import BrokerStats
from .store import MessageStore, StoreError
from .temporary import TEMP_PREFIX, TemporaryQueues

__all__ = ["Broker", "BrokerStats"]

log = logging.getLogger("stompbox.broker")

Queue = QueueDestination[Subscription, Session]

_TOPIC = DestinationKind.TOPIC
_QUEUE = DestinationKind.QUEUE
_SENDER_TERMS: Final = DELIVERY_HEADERS | {"reply-to"}
"""Sender headers the SEND path acts on: expiry and priority, and a temporary reply-to."""
_ROUTE_CACHE_LIMIT = 100_000


class Broker:
    """An in-memory STOMP broker; see the module docstring for the threading model."""

    def __init__(self, config: BrokerConfig | None = None) -> None:
        self.config = config or BrokerConfig()
        self.stats = BrokerStats()
        self.memory = MemoryBudget(self.config.memory_budget)
        """What held messages and transactions cost; the server adds partial frames and
        output buffers, and pauses publishers while it is over."""
        self.sessions: dict[str, Session] = {}
        self._topics: TopicIndex[Subscription] = TopicIndex(self.config.separator)
        self._queues: dict[str, Queue] = {}
        self._routes: dict[str, tuple[str, DestinationKind, bool]] = {}
        self._private: dict[str, tuple[Session, str]] = {}
        self.server_only: set[str] = set()
        """Destinations only the server publishes to (the console's overview feed,
        durable subscriptions' queues): a client's SEND to one is refused. One set lookup
        per SEND, once any exists."""
        """Reserved destinations: their session and the destination their messages show."""
        self.private_marker: str | None = None
        """Set by an application whose user destinations are named ``<name><marker><session
        id>`` (``-user``): such a name belongs to its session from the session's start,
        before the application reserves it, so that nobody can attach to it or leave a
        message in it first."""
        self._run = secrets.token_hex(3)
        self._counter = 0
        self.handlers: dict[str, Callable[[Session, Frame], object]] = {
            "SEND": self.send,
            "SUBSCRIBE": self.subscribe,
            "UNSUBSCRIBE": self.unsubscribe,
            "ACK": self.ack,
            "NACK": self.nack,
            "BEGIN": self.begin,
            "COMMIT": self.commit,
            "ABORT": self.abort,
        }
        """The method for each client command the broker carries out; built once here
        rather than per connection."""
        self.temporary = TemporaryQueues(self.config, self.reserve, self.subscribe)
        """Each session's ``/temp-queue/`` names (:mod:`stompbox.broker.temporary`)."""
        self.sync_soon: Callable[[], object] | None = None
        """Called when the store gains changes to commit; the server sets it to schedule
        :meth:`sync` within the event-loop turn."""
        self.clock: Callable[[], float] = time.time
        """Seconds since the epoch, for message deadlines (which are wall-clock times)."""
        self.retention: Retention | None = None
        """Retained topics' windows (:mod:`stompbox.broker.retention`); None when off."""
        if self.config.retain_topics:
            self.retention = Retention(self.config, self.memory)
        self.durable = DurableSubscriptions(self.config, self.server_only)
        """Durable topic subscriptions (:mod:`stompbox.broker.durable`)."""
        self.store: MessageStore | None = None
        if self.config.store:
            self.store = MessageStore(self.config.store, on_change=self._store_changed)
            for key, destination, queue in self.store.load_durable():
                try:
                    self.durable.add(key, destination, self.route(destination)[0], queue)
                except BrokerError as exc:
                    log.warning("durable subscription %r to %s: %s", key[2], destination, exc)
            self._restore(self.store)

    def _restore(self, store: MessageStore) -> None:
        """Put the persistent messages of a previous run back in their queues."""
        restored = 0
        now = self.clock() * 1000
        for message in stored_messages(store, self.route, self.durable, self._next_id):
            self.memory.charge(len(message.body) + MESSAGE_OVERHEAD)
            queue = self._queue(message.destination)
            deadline = message.deadline
            if deadline is not None:  # kept its deadline: expired while the broker was down?
                if deadline <= now:
                    self._expire(message)
                    continue
                queue.earliest = min(queue.earliest, deadline)
            if message.priority != DEFAULT_PRIORITY:
                queue.use_priorities()
            queue.push(message)
            restored += 1
        if restored:
            log.info("restored %d persistent message(s) from %s", restored, store.path)

    def _next_id(self) -> str:
        self._counter += 1
        return f"{self._run}-{self._counter}"

    def _store_changed(self) -> None:
        if self.sync_soon is not None:
            self.sync_soon()

    def sync(self, *, lazy: bool = False) -> bool:
        """Commit the store's pending changes to disk, in one transaction and one sync.

        Call it before writing output that may depend on them: a RECEIPT for a persistent
        SEND, a MESSAGE of a stored message (which is marked as delivered). The server does
        so once per event-loop turn for all connections (group commit); without a server,
        changes are committed here or by :meth:`close`. With ``lazy``, only changes a
        client may hear of next are worth a sync now; removals of consumed messages wait.

        Returns False, logged, if the commit failed (a full disk): the changes stay
        pending for the next call, and output that depends on them must wait.
        """
        store = self.store
        if store is None or not (store.urgent if lazy else store.pending):
            return True
        return store.try_commit()

    def close(self) -> None:
        """Commit and release the message store, if any (persistent messages stay in it)."""
        if self.store is not None:
            try:
                self.store.close()
            except StoreError as exc:
                log.error("%s", exc)
            self.store = None

    def _forget(self, message: Message) -> None:
        """A held message was consumed: it leaves the memory budget, and the store."""
        self.memory.release(len(message.body) + MESSAGE_OVERHEAD)
        if self.store is not None and message.stored is not None:
            self.store.remove(message.stored)
        message.stored = None

    # -- sessions ----------------------------------------------------------------------

    def open_session(
        self,
        sink: SessionSink,
        version: str,
        user: str | None = None,
        *,
        client_id: str | None = None,
    ) -> Session:
        """A session for a connected client; ``user`` is its verified name, if any,
        ``client_id`` its CONNECT's ``client-id``.

        Session ids are random (128 bits, in hex: no ``-``, so that ``private_marker``
        finds where one begins): a user destination's private queue is named after one,
        and nothing about one session's id tells another's.
        """
        session = Session(secrets.token_hex(16), version, sink, user, client_id)
        self.sessions[session.id] = session
        return session

    def reserve(self, destination: str, session: Session, shown: str) -> None:
        """Make ``destination`` private to ``session`` until it closes: no other session
        may subscribe to it or send to it (a wildcard subscription that matches it gets
        none of its messages), and its messages show ``shown`` as their destination.
        Only the server's own code (a user destination's resolution) publishes to it."""
        if destination not in self._private:
            self._private[destination] = (session, shown)
            session.private.append(destination)

    def queue_depths(self) -> dict[str, tuple[int, int, int]]:
        """Each queue's waiting messages, their body bytes, and its consumers."""
        return {
            name: (len(queue.backlog), queue.backlog_bytes, len(queue.consumers))
            for name, queue in self._queues.items()
        }

    def owner(self, destination: str) -> Session | None:
        """The session ``destination`` belongs to: reserved for it, or named after it
        (``private_marker`` and its id at the end), reserved or not yet."""
        private = self._private.get(destination)
        if private is not None:
            return private[0]
        marker = self.private_marker
        if marker is not None:
            at = destination.rfind(marker)
            if at >= 0:
                return self.sessions.get(destination[at + len(marker) :])
        return None

    def _refuse_private(self, session: Session, destination: str, action: str) -> None:
        owner = self.owner(destination)
        if owner is not None and owner is not session:
            if action == "SEND" and self.temporary.holds(destination):
                return  # anybody may answer to a temporary queue; only its session reads
            raise BrokerError("access denied", f"{action} to {destination} is not allowed")

    def close_session(self, session: Session) -> None:
        """Forget a session: its unacked queue messages return to their queues' heads, and
        so do auto-ack ones whose bytes never reached its socket."""
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        transactions.close_all(session, self.memory)
        if session.blocked_on is not None:
            blocked = session.blocked_on.blocked
            if session in blocked:
                blocked.remove(session)
            session.blocked_on = None
        unsent, session.settling = session.settling, []
        self._return_unsent(unsent)
        for sub in list(session.subscriptions.values()):
            self._remove_subscription(sub)  # which hands its queue to other consumers
        for sub in session.unsubscribed.values():
            self._give_back(sub)
        session.unsubscribed.clear()
        for name in self.temporary.close(session):
            self._delete_queue(name)
        for destination in session.private:
            self._private.pop(destination, None)
        session.private.clear()

    def output_written(
        self, session: Session, writable: bool, settling: list[Message] | None = None
    ) -> None:
        """The server handed the session's output to its socket; ``writable`` says whether
        the socket takes more now. Auto-acked queue messages are consumed only here.

        ``settling`` names the messages that output carried, when the server took it
        earlier than it wrote it (to commit the store meanwhile); by default, every
        message settling now.
        """
        if settling is None:
            settling, session.settling = session.settling, []
        if settling:
            size = MESSAGE_OVERHEAD * len(settling)
            for message in settling:
                size += len(message.body)
            self.memory.release(size)
            if self.store is not None:
                stored = [m.stored for m in settling if m.stored is not None]
                if stored:
                    self.store.remove_many(stored)
                    for message in settling:
                        message.stored = None
        if writable and not session.writable and not session.closed:
            self.set_writable(session, True)

    def output_lost(self, session: Session, settling: list[Message]) -> None:
        """Output taken from ``session`` never reached its socket (the connection went
        first): its auto-acked queue messages go back to their queues' heads, now or,
        while the session is still open, when it closes."""
        if not settling:
            return
        if not session.closed:
            session.settling[:0] = settling
            return
        for queue in self._return_unsent(settling):
            self._dispatch(queue)

    def _return_unsent(self, messages: list[Message]) -> list[Queue]:
        """Put auto-acked queue messages whose bytes never reached the socket back at the
        heads of their queues, in order, without counting a delivery attempt; return
        those queues."""
        if self.store is not None:
            for message in messages:  # never reached the client: not a redelivery
                if message.stored is not None:
                    self.store.redelivered(message.stored, message.redeliveries)
        queues: dict[str, Queue] = {}
        for message in reversed(messages):
            queue = queues[message.destination] = self._queue(message.destination)
            queue.push_front([message])
        return list(queues.values())

    def set_writable(self, session: Session, writable: bool) -> None:
        """The connection's output crossed its limit (False) or drained (True)."""
        session.writable = writable
        if writable:
            for sub in list(session.subscriptions.values()):
                self._refill(sub)
                if not session.writable:
                    break

    def forget_caches(self) -> None:
        """Drop what is cached only for speed (routes and encoded lines of destinations
        seen), so that memory freed after a burst is not pinned by a few long-lived
        entries: after 100,000 messages to 1,000 queues, 75 MiB more went back to the
        system with these caches emptied than without."""
        self._routes = {}
        forget_destination_lines()

    # -- routing -----------------------------------------------------------------------

    def route(self, destination: str) -> tuple[str, DestinationKind, bool]:
        """Return the configured prefix and kind of ``destination`` and whether it holds
        wildcards, or raise :class:`BrokerError` if no prefix covers it."""
        route = self._routes.get(destination)
        if route is not None:
            return route
        for prefix, kind in self.config.prefixes.items():
            if destination.startswith(prefix) and len(destination) > len(prefix):
                segments = split_destination(destination, prefix, self.config.separator)
                route = (prefix, kind, has_wildcard(segments))
                break
        else:
            known = ", ".join(self.config.prefixes)
            raise BrokerError(
                "unknown destination",
                f"destination {destination!r} is not under a configured prefix ({known})",
            )
        if len(self._routes) >= _ROUTE_CACHE_LIMIT:
            self._routes.clear()
        self._routes[destination] = route
        return route

    # -- SEND --------------------------------------------------------------------------

    def send(self, session: Session, frame: Frame) -> None:
        self._publish(session, frame, in_transaction=False)

    def _publish(self, session: Session, frame: Frame, *, in_transaction: bool) -> None:
        """Publish a SEND, or hold it in its transaction (unless it is being committed).

        One pass over the headers finds the destination, the transaction and the sender's
        own headers: this runs once per SEND.
        """
        _, headers, body = frame
        destination: str | None = None
        own: list[tuple[str, str]] = []
        terms = False
        temp_reply = -1
        for header in headers:
            name = header[0]
            if name in BROKER_HEADERS:
                if name == "destination":
                    if destination is None:
                        destination = header[1]
                elif name == "transaction" and not in_transaction:
                    self._hold_in_transaction(session, frame, header[1])
                    return
                elif name == "user-id" and header[1] != session.user:
                    check_user_id(headers, session.user)  # raises
            else:
                if name in _SENDER_TERMS:  # one lookup for the common header
                    if name != "reply-to":
                        terms = True
                    elif header[1].startswith(TEMP_PREFIX):
                        temp_reply = len(own)
                own.append(header)
        if session.user is not None:
            own.append(("user-id", session.user))
        destination = destination or ""
        if destination.startswith(TEMP_PREFIX):
            destination = self.temporary.queue_of(session, destination)
        if self._private or self.private_marker is not None:
            self._refuse_private(session, destination, "SEND")
        if self.server_only and destination in self.server_only:
            raise BrokerError(
                "access denied", f"{destination} is the server's own: clients may not SEND to it"
            )
        if temp_reply >= 0:  # the real name, which the sender now reads
            own[temp_reply] = ("reply-to", self.temporary.reply_to(session, own[temp_reply][1]))
        queue = self.publish(destination, tuple(own), body, terms=terms)
        if (
            queue is not None
            and len(queue.backlog) >= self.config.queue_high_water
            and queue.consumers
            and session.blocked_on is None
        ):
            session.blocked_on = queue
            queue.blocked.append(session)
            self.stats.producers_paused += 1
            session.sink.pause_reading()

    def _hold_in_transaction(self, session: Session, frame: Frame, tx_id: str) -> None:
        """Keep a SEND for COMMIT, once checked as publishing it would check it."""
        tx = transactions.open_transaction(session, tx_id)
        destination = frame.get("destination") or ""
        check_user_id(frame.headers, session.user)  # refused now, not at COMMIT
        check_headers(frame.headers)
        if destination.startswith(TEMP_PREFIX):
            destination = self.temporary.queue_of(session, destination)
        if self._private or self.private_marker is not None:
            self._refuse_private(session, destination, "SEND")
        if self.server_only and destination in self.server_only:
            raise BrokerError(
                "access denied", f"{destination} is the server's own: clients may not SEND to it"
            )
        if self.route(destination)[2]:  # refuse a bad destination now, not at COMMIT
            raise BrokerError(
                "invalid destination",
                f"a SEND destination cannot hold wildcards: {destination}",
            )
        transactions.hold(session, tx, frame, self.config, self.memory)

    def publish(
        self,
        destination: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
        *,
        terms: bool = True,
    ) -> Queue | None:
        """Route a message from anywhere (a SEND, or an application's template).

        ``headers`` are the sender's own; the broker adds destination and message-id.
        ``terms`` False says they hold no ``expires``, ``expiration`` or ``priority``.
        Returns the queue it went to, if any, so that a caller may apply back-pressure.
        """
        prefix, kind, wildcard = self.route(destination)
        if wildcard:
            raise BrokerError(
                "invalid destination", f"a SEND destination cannot hold wildcards: {destination}"
            )
        self._counter += 1
        message = Message(destination, f"{self._run}-{self._counter}", headers, body)
        self.stats.published += 1
        private = self._private.get(destination) if self._private else None
        if private is not None:
            message.shown_destination = private[1]
        if kind is _QUEUE:
            queue = self._queues.get(destination)
            if queue is None:
                if self.temporary.gone(destination):
                    self.stats.dropped_temporary += 1  # a late reply: its queue went too
                    return None
                queue = self._queue(destination)
            if (terms or queue.ttl is not None) and self._stamp(message, queue):
                return queue
            persistent = (
                self.store is not None
                and ("persistent", "true") in headers
                and not self.temporary.holds(destination)  # gone with its session anyway
            )
            self._enqueue(queue, message, persistent)
            queue.published += 1
            return queue
        if terms and self._stamp(message, None):
            return None
        if self.durable.bindings and private is None:
            for binding in self.durable.match(destination, prefix):
                self._keep_durable(binding, message)
        subs: list[Subscription] = []
        targets: list[tuple[ServerConnection, str]] = []
        matched = self._topics.match(destination, prefix)
        if private is not None:  # only its session's: not another's wildcard subscription
            matched = [sub for sub in matched if sub.session is private[0]]
        retention = self.retention
        if retention is not None and private is None:  # a session's own: never replayed
            retention.record(message)
            if retention.marks:
                matched = retention.mark_first(message, matched, self._offer)
        for sub in matched:
            session = sub.session
            if sub.pending or not session.writable:
                pending.hold(sub, message, self.config, self.memory, self.stats)
            elif sub.ack == "auto":  # the common case, handed to the protocol in one batch
                subs.append(sub)
                targets.append((session.connection, sub.id))
            elif sub.has_room():  # its prefetch-count allows one more
                self._deliver(sub, message)
            else:
                pending.hold(sub, message, self.config, self.memory, self.stats)
        if targets:
            for index in fan_out(message, targets):
                subs[index].session.writable = False
            self.stats.delivered += len(targets)
        return None

    def _enqueue(self, queue: Queue, message: Message, persistent: bool = False) -> None:
        """Deliver or queue ``message``; it is stored only once it has been accepted."""
        consumer = queue.next_consumer() if not queue.backlog else None
        if consumer is not None:
            if persistent:
                self._store(message)
            self.memory.charge(len(message.body) + MESSAGE_OVERHEAD)
            queue.delivered += 1
            self._deliver(consumer, message)
            return
        config = self.config
        if (
            len(queue.backlog) >= config.queue_max_messages
            or queue.backlog_bytes + len(message.body) > config.queue_max_bytes
        ):
            raise BrokerError(
                "queue full",
                f"queue {queue.name} holds {len(queue.backlog)} messages and "
                f"{queue.backlog_bytes} bytes; its limits are queue_max_messages="
                f"{config.queue_max_messages} and queue_max_bytes={config.queue_max_bytes}. "
                "The message was not accepted.",
            )
        if persistent:
            self._store(message)
        self.memory.charge(len(message.body) + MESSAGE_OVERHEAD)
        queue.push(message)
        self._dispatch(queue)

    def _keep_durable(self, binding: DurableBinding, message: Message) -> None:
        """Put a copy of a topic message in a durable subscription's queue, to show the
        topic. A full queue, or a spent memory budget while the copy would wait, drops it
        (the newest): a publisher is not refused because a subscriber is away."""
        queue = self._queue(binding.queue)
        why = self.durable.refusal(queue, len(message.body), self.memory)
        if why is not None:
            self.stats.dropped_durable += 1
            self.durable.dropped(binding, why, time.monotonic())
            if not queue.backlog and not queue.consumers:
                self._queues.pop(queue.name, None)
            return
        copy = durable_copy(binding, message, queue)
        if self.store is not None and ("persistent", "true") in message.headers:
            shown = (*message.headers, ("destination", message.destination))  # see _restore
            copy.stored = self.store.add(binding.queue, shown, message.body, copy.deadline or 0)
        self._enqueue(queue, copy)
        queue.published += 1

    def _attach_durable(self, key: DurableKey, destination: str, prefix: str) -> str:
        """The backing queue of durable subscription ``key`` to ``destination``, made if
        new; asked for with another topic, it is made anew (as ActiveMQ does)."""
        binding = self.durable.bindings.get(key)
        if binding is not None:
            queue = self._queues.get(binding.queue)
            if queue is not None and queue.consumers:
                raise BrokerError(
                    "durable subscription in use",
                    f"durable subscription {key[2]!r} already has a subscriber",
                )
            if binding.destination == destination:
                return binding.queue
            self._drop_durable(binding)
        return self.durable.bind(key, destination, prefix, self.store).queue

    def _drop_durable(self, binding: DurableBinding) -> None:
        """Remove a durable subscription with its queue and what the queue holds."""
        self.durable.unbind(binding, self.store)
        queue = self._queues.pop(binding.queue, None)
        while queue is not None and queue.backlog:
            self._forget(queue.pop())

    def _store(self, message: Message) -> None:
        assert self.store is not None
        message.stored = self.store.add(
            message.destination, message.headers, message.body, message.deadline or 0
        )

    def _deliver(self, sub: Subscription, message: Message) -> None:
        session = sub.session
        if message.stored is not None and self.store is not None:
            self.store.delivered(message.stored)  # committed before its bytes go out
        if sub.ack == "auto":
            if sub.queue is not None:
                session.settling.append(message)  # consumed once its bytes are out
            room = session.connection.send_message(sub.id, None, message)
        else:
            ack_id = f"{message.id}.{sub.number}"
            sub.unacked[ack_id] = message
            ack = ack_id if session.version == "1.2" else None
            room = session.connection.send_message(sub.id, ack, message)
            if sub.queue is not None:
                message.drop_encoding()  # one consumer: held unacked, its tail is dead weight
            else:
                self.memory.charge(len(message.body) + MESSAGE_OVERHEAD)  # released by ack
        if not room:
            session.writable = False
        self.stats.delivered += 1

    def _offer(self, sub: Subscription, message: Message, replay: bool = False) -> None:
        """Deliver one topic message to one subscriber, or hold it, as a fan-out would; a
        replay (bounded by the retention window) is written even past a full output."""
        writable = replay or sub.session.writable
        if sub.pending or not writable or not (sub.ack == "auto" or sub.has_room()):
            pending.hold(sub, message, self.config, self.memory, self.stats)
        else:
            self._deliver(sub, message)

    def _replay(self, sub: Subscription, message: Message) -> None:
        self._offer(sub, message, replay=True)

    # -- queues ------------------------------------------------------------------------

    def _queue(self, name: str) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = QueueDestination(name)
            if self.config.queue_ttl:
                queue.ttl = queue_ttl(self.config.queue_ttl, name)
        return queue

    def _dispatch(self, queue: Queue) -> None:
        """Hand backlog to consumers with room, then wake paused producers if it drained."""
        backlog = queue.backlog
        while backlog:
            consumer = queue.next_consumer()
            if consumer is None:
                break
            message = queue.pop()
            if message.deadline is not None and message.deadline <= self.clock() * 1000:
                self._expire(message)
                continue
            queue.delivered += 1
            self._deliver(consumer, message)
        if queue.blocked and (
            len(backlog) < self.config.queue_high_water // 2 or not queue.consumers
        ):  # drained, or nobody left to wait for: SENDs past the limit get ERROR instead
            blocked, queue.blocked = queue.blocked, []
            for producer in blocked:
                producer.blocked_on = None
                if not producer.closed:
                    producer.sink.resume_reading()

    def _refill(self, sub: Subscription) -> None:
        """After an ack or a drained buffer, give a subscriber what waits for it."""
        if sub.queue is not None:
            self._dispatch(sub.queue)
            return
        for message in pending.take_due(sub, self.memory, self.stats, self.clock):
            self._deliver(sub, message)

    def _return_to_queue(self, queue: Queue, messages: list[Message]) -> None:
        """Put unacked or NACKed messages back at the head, or dead-letter them."""
        back = []
        for message in messages:
            message.redeliver()
            self.stats.redelivered += 1
            if message.redeliveries > self.config.max_redeliveries:
                self._dead_letter(message)
            else:
                if self.store is not None and message.stored is not None:
                    self.store.redelivered(message.stored, message.redeliveries)
                back.append(message)
        if back:
            queue.push_front(back)

    def _dead_letter(self, message: Message, reason: str | None = None) -> None:
        if self.temporary.holds(message.destination):  # private: never to a shared DLQ
            self._forget(message)
            self.stats.dropped_temporary += 1
            return
        prefix, _, _ = self.route(message.destination)
        name = message.destination[len(prefix) :]
        target = f"{prefix}{self.config.dead_letter_prefix}{name}"
        self.stats.dead_lettered += 1
        log.warning(
            "message %s moved to %s after %d delivery attempts%s",
            message.id,
            target,
            message.redeliveries,
            f" ({reason})" if reason else "",
        )
        extra = [("original-destination", message.destination)]
        if reason is not None:
            extra.append(("dead-letter-reason", reason))
        dead = Message(target, self._next_id(), (*message.headers, *extra), message.body)
        queue = self._queue(target)
        if len(queue.backlog) >= self.config.queue_max_messages:
            log.error("dead-letter queue %s is full; message %s discarded", target, message.id)
            self._forget(message)
            return
        if self.store is not None and message.stored is not None:
            self.store.move(message.stored, target, dead.headers)
            dead.stored, message.stored = message.stored, None
        queue.push(dead)
        self._dispatch(queue)

    # -- expiry ------------------------------------------------------------------------

    def _stamp(self, message: Message, queue: Queue | None) -> bool:
        """Read a new message's deadline and priority (:func:`~.expiry.stamp`, which
        refuses bad values); True if it had expired already, and was counted (and
        dead-lettered, for a queue so configured) instead of routed."""
        now = self.clock() * 1000
        stamp(message, queue.ttl if queue is not None else None, now)
        deadline = message.deadline
        if deadline is not None and deadline < now:
            self.stats.expired += 1
            if queue is not None and self.config.dead_letter_expired:
                self.memory.charge(len(message.body) + MESSAGE_OVERHEAD)
                message.deadline = None
                self._dead_letter(message, "expired")
            return True
        if queue is not None:
            if message.priority != DEFAULT_PRIORITY:
                queue.use_priorities()
            if deadline is not None and deadline < queue.earliest:
                queue.earliest = deadline
        return False

    def _expire(self, message: Message) -> None:
        """A queue message's deadline passed before it was delivered."""
        self.stats.expired += 1
        message.deadline = None  # a dead letter does not expire
        if self.config.dead_letter_expired:
            self._dead_letter(message, "expired")
        else:
            self._forget(message)

    def sweep_expired(self, budget: int = 100_000) -> int:
        """Take expired messages out of queues, so that a queue nobody consumes does not
        hold them; returns how many. The server calls it every second.

        Whole queues are looked at, until about ``budget`` messages have been; a queue
        looked at goes to the end of the order, so the next sweep starts with the others.
        """
        now = self.clock() * 1000
        if self.retention is not None:  # retained topic messages past retain_seconds
            self.retention.sweep()
        expired = examined = 0
        for queue in [q for q in self._queues.values() if q.earliest <= now]:
            if examined >= budget:
                break
            examined += len(queue.backlog)
            gone = take_expired(queue, now)
            for message in gone:
                self._expire(message)
            expired += len(gone)
            self._dispatch(queue)  # to wake producers paused by its backlog
            if self._queues.get(queue.name) is queue:
                del self._queues[queue.name]
                if queue.consumers or queue.backlog or queue.blocked:
                    self._queues[queue.name] = queue
        return expired

    # -- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------

    def subscribe(self, session: Session, frame: Frame) -> Subscription:
        destination, sub_id = subscriptions.new_subscription(session, frame, self.config)
        if destination.startswith(TEMP_PREFIX):
            destination = self.temporary.queue_of(session, destination)
        elif self.temporary.gone(destination):
            raise BrokerError("access denied", f"SUBSCRIBE to {destination} is not allowed")
        prefix, kind, wildcard = self.route(destination)
        if self._private or self.private_marker is not None:
            self._refuse_private(session, destination, "SUBSCRIBE")
        if kind is not _TOPIC and self.durable.reserved(destination):
            raise BrokerError("access denied", f"SUBSCRIBE to {destination} is not allowed")
        if wildcard and kind is _QUEUE:
            raise BrokerError(
                "invalid destination", f"wildcards work on topics only, not on {destination}"
            )
        prefetch = subscriptions.prefetch_count(frame)
        if kind is _TOPIC:
            key = durable_key(session, frame, frame.get("id"))
            if key is not None:  # consumed as the queue behind it, once checked
                consumer_terms(frame.headers, True)
                if frame.get("resume-from") is not None or frame.get("since") is not None:
                    raise BrokerError(
                        "not retained", "a durable subscription keeps its messages: no resume"
                    )
                destination = self._attach_durable(key, destination, prefix)
                prefix, kind, wildcard = self.route(destination)
        resume = parse_resume(frame.get("resume-from"), frame.get("since"))
        if resume is not None:
            if kind is _QUEUE:
                raise BrokerError("not retained", f"{destination} cannot be resumed: a queue")
            if self.retention is None:
                # off now, perhaps not when the client was given its position: rather than
                # refusing every reconnection, it is told of the gap (and publishing pays
                # one lookup of an empty set of retained topics from now on)
                self.retention = Retention(self.config, self.memory)
            self.retention.check(resume)
        exclusive, priority = consumer_terms(frame.headers, kind is _QUEUE)
        sub = Subscription(
            session,
            sub_id,
            session.next_number(),
            destination,
            prefix,
            kind,
            frame.get("ack", "auto") or "auto",
            prefetch,
        )
        sub.exclusive, sub.priority = exclusive, priority
        session.subscriptions[sub_id] = sub
        if kind is _QUEUE:
            queue = self._queue(destination)
            queue.add_consumer(sub)
            sub.queue = queue
            self._dispatch(queue)
        else:
            self._topics.add(destination, prefix, sub)
            if resume is not None and self.retention is not None:
                self.retention.start(sub, resume, self.config.separator, self._replay)
        return sub

    def unsubscribe(self, session: Session, frame: Frame) -> None:
        sub, sub_id = subscriptions.subscription_named(session, frame, self.temporary)
        key = durable_key(session, frame, sub_id)
        binding = None
        if key is not None:  # removes the durable subscription too
            binding = self.durable.queues.get(sub.destination) if sub is not None else None
            binding = binding or self.durable.bindings.get(key)
            queue = self._queues.get(binding.queue) if binding is not None else None
            if queue is not None and queue.consumers and (sub is None or sub.queue is not queue):
                raise BrokerError(
                    "durable subscription in use",
                    f"durable subscription {key[2]!r} has a subscriber on another connection",
                )
        if sub is None and binding is None:
            raise BrokerError("unknown subscription", f"no subscription with id {sub_id!r}")
        if sub is not None:
            self._remove_subscription(sub, keep_unacked=binding is None)
        if binding is not None:
            self._drop_durable(binding)

    def _remove_subscription(self, sub: Subscription, *, keep_unacked: bool = False) -> None:
        session = sub.session
        session.subscriptions.pop(sub.id, None)
        queue = sub.queue
        if queue is not None:
            queue.remove_consumer(sub)
            if sub.unacked and keep_unacked and not sub.exclusive:  # successor gets them
                oldest = acks.keep_unacked(session, sub, self.config.max_subscriptions)
                if oldest is not None:
                    self._give_back(oldest)
            elif sub.unacked:
                self._return_to_queue(queue, list(sub.unacked.values()))
                sub.unacked.clear()
            self._dispatch(queue)
            if not queue.consumers and not queue.backlog and not queue.blocked:
                self._queues.pop(queue.name, None)
        else:
            self._topics.remove(sub.destination, sub.prefix, sub)
            if self.retention is not None:
                self.retention.marks.pop(sub, None)
            pending.release(sub, self.memory)

    def _give_back(self, sub: Subscription) -> None:
        """Return an ended queue subscription's unacked messages to its queue, which may
        have been forgotten (and so is looked up again) while nobody consumed it."""
        assert sub.queue is not None
        name = sub.queue.name
        queue = self._queue(name)
        self._return_to_queue(queue, list(sub.unacked.values()))
        sub.unacked.clear()
        self._dispatch(queue)
        if not queue.consumers and not queue.backlog and not queue.blocked:
            self._queues.pop(name, None)

    # -- ACK / NACK --------------------------------------------------------------------

    def ack(self, session: Session, frame: Frame) -> None:
        tx_id = frame.get("transaction")
        if tx_id is not None:
            acks.find_unacked(session, frame)  # refuse an unknown id now, not at COMMIT
            tx = transactions.open_transaction(session, tx_id)
            transactions.hold(session, tx, frame, self.config, self.memory)
            return
        self._settle(session, frame)

    def nack(self, session: Session, frame: Frame) -> None:
        self.ack(session, frame)  # the same path: _settle looks at the command

    def _settle(self, session: Session, frame: Frame) -> None:
        sub, ack_id = acks.find_unacked(session, frame)
        unacked = sub.unacked
        if frame.command == "NACK":
            # NACK means the same in every ack mode: this one message was not processed.
            self.stats.nacked += 1
            message = unacked.pop(ack_id)
            if sub.queue is not None and sub.number in session.unsubscribed:
                sub.queue = self._queue(sub.queue.name)  # forgotten while unconsumed?
            if sub.queue is not None and frame.get("requeue") == "false":
                self._dead_letter(message)  # RabbitMQ's header: give up on it now
            elif sub.queue is not None:
                self._return_to_queue(sub.queue, [message])
            else:
                self.stats.dropped_nacked_topic += 1
                self.memory.release(len(message.body) + MESSAGE_OVERHEAD)
        elif sub.ack == "client":  # cumulative: this message and all delivered before it
            self.stats.acked += 1
            while unacked:
                key = next(iter(unacked))
                self._forget(unacked.pop(key))
                if key == ack_id:
                    break
        else:
            self.stats.acked += 1
            self._forget(unacked.pop(ack_id))
        if session.unsubscribed.get(sub.number) is not sub:
            self._refill(sub)
            return
        if not unacked:
            del session.unsubscribed[sub.number]
        if sub.queue is not None and frame.command == "NACK":
            self._dispatch(sub.queue)

    # -- transactions (:mod:`stompbox.broker.transactions`) ----------------------------

    def begin(self, session: Session, frame: Frame) -> None:
        transactions.begin(session, frame.get("transaction") or "", self.config)

    def commit(self, session: Session, frame: Frame) -> None:
        tx = transactions.end(session, frame.get("transaction") or "", self.memory)
        for held in tx.frames:
            if held.command == "SEND":
                self._publish(session, held, in_transaction=True)
            else:
                self._settle(session, held)

    def abort(self, session: Session, frame: Frame) -> None:
        transactions.end(session, frame.get("transaction") or "", self.memory)

    # -- introspection -----------------------------------------------------------------

    def _delete_queue(self, name: str) -> None:
        """Delete a temporary queue whose session closed: what it still holds is dropped
        (counted in ``dropped_temporary``), and producers it paused are read again."""
        queue = self._queues.pop(name, None)
        if queue is None:
            return
        while queue.backlog:
            self._forget(queue.pop())
            self.stats.dropped_temporary += 1
        blocked, queue.blocked = queue.blocked, []
        for producer in blocked:
            producer.blocked_on = None
            if not producer.closed:
                producer.sink.resume_reading()

    def queue_depth(self, destination: str) -> int:
        queue = self._queues.get(destination)
        return len(queue.backlog) if queue is not None else 0
