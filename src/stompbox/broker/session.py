"""The broker's view of one client connection: its subscriptions and transactions.

The connection behind it is reached only through :class:`SessionSink`: the broker hands
it deliveries and never sees bytes."""

from __future__ import annotations

from collections import deque
from typing import Protocol

from stompbox.protocol.frames import Frame
from stompbox.protocol.server import ServerConnection

from .config import DestinationKind
from .message import Message
from .queues import QueueDestination

__all__ = ["Session", "SessionSink", "Subscription", "Transaction"]


class SessionSink(Protocol):
    """What the broker needs from a connection; the server implements it per client.

    Deliveries go to ``connection``, the client's sans-IO protocol connection, which
    frames them (:meth:`ServerConnection.send_message`, :func:`fan_out`) and says when its
    output is full; the server writes that output.
    """

    @property
    def connection(self) -> ServerConnection: ...

    def pause_reading(self) -> None:
        """Stop reading this client's frames (back-pressure on a producer)."""

    def resume_reading(self) -> None: ...

    def fail(self, message: str, detail: str) -> None:
        """Send an ERROR frame and close the connection (a slow-consumer disconnect)."""


class Subscription:
    """One SUBSCRIBE: where it listens, how it acknowledges, what it has not acked yet."""

    __slots__ = (
        "ack",
        "destination",
        "dropping",
        "exclusive",
        "id",
        "kind",
        "number",
        "pending",
        "pending_bytes",
        "prefetch",
        "prefix",
        "priority",
        "queue",
        "session",
        "unacked",
    )

    def __init__(
        self,
        session: Session,
        sub_id: str,
        number: int,
        destination: str,
        prefix: str,
        kind: DestinationKind,
        ack: str,
        prefetch: int,
    ) -> None:
        self.session = session
        self.id = sub_id
        self.number = number
        self.destination = destination
        self.prefix = prefix
        self.kind = kind
        self.ack = ack
        self.prefetch = prefetch
        self.unacked: dict[str, Message] = {}
        """Ack id -> message, in delivery order (client mode acks cumulatively)."""
        self.pending: deque[Message] = deque()
        """Topic messages waiting for this subscriber to have room (bounded by config)."""
        self.pending_bytes = 0
        self.queue: QueueDestination[Subscription, Session] | None = None
        self.dropping = False
        self.exclusive = False
        """Whether it asked to be a queue's only consumer while subscribed (``exclusive``)."""
        self.priority = 0
        """Its consumer priority (``x-priority``): higher is served first."""

    def has_room(self) -> bool:
        """Whether a message sent now can be written to this subscriber at once."""
        return self.session.writable and (not self.prefetch or len(self.unacked) < self.prefetch)


class Transaction:
    """Frames (SEND, ACK, NACK) held until COMMIT."""

    __slots__ = ("frames", "id", "size")

    def __init__(self, tx_id: str) -> None:
        self.id = tx_id
        self.frames: list[Frame] = []
        self.size = 0
        """What its SENDs cost against the memory budget and max_transaction_bytes."""


class Session:
    """Broker-side state of one STOMP session.

    ``writable`` is False while the connection's output is full: nothing more is handed to
    it until the server says it drained. ``settling`` lists the queue messages delivered
    with auto ack whose bytes have not reached the socket yet: they are consumed only then,
    and go back to their queues if the connection is lost first.
    """

    __slots__ = (
        "_numbers",
        "blocked_on",
        "client_id",
        "closed",
        "connection",
        "id",
        "private",
        "settling",
        "sink",
        "subscriptions",
        "transactions",
        "unsubscribed",
        "user",
        "version",
        "writable",
    )

    def __init__(
        self,
        session_id: str,
        version: str,
        sink: SessionSink,
        user: str | None,
        client_id: str | None = None,
    ) -> None:
        self.id = session_id
        self.version = version
        self.sink = sink
        self.connection = sink.connection
        self.user = user
        """The verified name of its principal, or None (anonymous): stamped on its
        messages as ``user-id``."""
        self.client_id = client_id
        """CONNECT's ``client-id``, which names ActiveMQ-style durable subscriptions."""
        self.private: list[str] = []
        """Destinations reserved for this session alone (:meth:`Broker.reserve`)."""
        self.settling: list[Message] = []
        self.writable = True
        self.closed = False
        self.subscriptions: dict[str, Subscription] = {}
        self.unsubscribed: dict[int, Subscription] = {}
        """Queue subscriptions ended by UNSUBSCRIBE, by number, whose delivered messages
        still await this session's ACK or NACK (a JMS session's messages outlive their
        consumer); what is left of them goes back to the queue when the session ends."""
        self.transactions: dict[str, Transaction] = {}
        self.blocked_on: QueueDestination[Subscription, Session] | None = None
        self._numbers = 0

    def next_number(self) -> int:
        self._numbers += 1
        return self._numbers
