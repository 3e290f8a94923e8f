"""The broker's view of one client connection: its subscriptions, transactions and
pending output. The transport behind it is reached only through :class:`SessionSink`."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

from stompbox.protocol.escaping import escape
from stompbox.protocol.frames import Frame

from .config import DestinationKind

if TYPE_CHECKING:
    from .message import Message
    from .queues import QueueDestination

__all__ = ["Session", "SessionSink", "Subscription", "Transaction"]


class SessionSink(Protocol):
    """What the broker needs from a transport; the server implements it per connection."""

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
        "header",
        "id",
        "kind",
        "number",
        "pending",
        "prefetch",
        "prefix",
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
        self.header = f"MESSAGE\nsubscription:{escape(sub_id, session.version)}\n".encode()
        self.unacked: dict[str, Message] = {}
        """Ack id -> message, in delivery order (client mode acks cumulatively)."""
        self.pending: deque[Message] = deque()
        """Topic messages waiting for this subscriber to have room (bounded by config)."""
        self.queue: QueueDestination | None = None
        self.dropping = False

    def has_room(self) -> bool:
        """Whether a message sent now can be written to this subscriber at once."""
        return self.session.writable and (not self.prefetch or len(self.unacked) < self.prefetch)


class Transaction:
    """Frames (SEND, ACK, NACK) held until COMMIT."""

    __slots__ = ("frames", "id")

    def __init__(self, tx_id: str) -> None:
        self.id = tx_id
        self.frames: list[Frame] = []


class Session:
    """Broker-side state of one STOMP session; ``out`` holds bytes not yet handed to the
    transport, written in order with the connection's own frames (RECEIPT, ERROR)."""

    __slots__ = (
        "_numbers",
        "blocked_on",
        "closed",
        "id",
        "login",
        "out",
        "sink",
        "subscriptions",
        "transactions",
        "version",
        "writable",
    )

    def __init__(self, session_id: str, version: str, sink: SessionSink, login: str | None) -> None:
        self.id = session_id
        self.version = version
        self.sink = sink
        self.login = login
        self.out: list[bytes] = []
        self.writable = True
        self.closed = False
        self.subscriptions: dict[str, Subscription] = {}
        self.transactions: dict[str, Transaction] = {}
        self.blocked_on: QueueDestination | None = None
        self._numbers = 0

    def next_number(self) -> int:
        self._numbers += 1
        return self._numbers
