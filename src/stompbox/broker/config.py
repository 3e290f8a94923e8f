"""What an operator can configure about the broker; every bound has a finite default."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .memory import default_memory_budget, parse_size

__all__ = ["BrokerConfig", "DestinationKind", "SlowConsumerPolicy"]


class DestinationKind(enum.Enum):
    TOPIC = "topic"
    """Publish-subscribe: every matching subscription gets a copy."""
    QUEUE = "queue"
    """Point-to-point: each message goes to one subscriber, round-robin; waits if none."""


class SlowConsumerPolicy(enum.Enum):
    """What happens to a topic message for a subscriber whose buffer is full."""

    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"
    DISCONNECT = "disconnect"


def _default_prefixes() -> dict[str, DestinationKind]:
    return {"/topic/": DestinationKind.TOPIC, "/queue/": DestinationKind.QUEUE}


@dataclass(slots=True)
class BrokerConfig:
    """Broker behaviour and limits. ``None`` is not accepted for limits: each is finite.

    Every integer limit must be at least 1 (0 would refuse every message, subscription
    or transaction) except ``max_redeliveries`` and ``max_transactions``, where 0 means
    what their docstrings say; anything else is refused when the config is made."""

    prefixes: dict[str, DestinationKind] = field(default_factory=_default_prefixes)
    """Destination prefixes and their semantics; anything else is refused."""
    separator: str = "/"
    """Segment separator for topic wildcards: ``/`` (``/topic/a/*``) or ``.``
    (``/topic/price.stock.*``)."""
    queue_max_messages: int = 100_000
    """Messages a queue may hold while it waits for consumers; a SEND past it gets ERROR."""
    queue_max_bytes: int = 64 * 1024 * 1024
    """Body bytes a queue may hold; a SEND past it gets ERROR."""
    queue_high_water: int = 10_000
    """Backlog at which producers to a queue whose consumers are all busy stop being read."""
    topic_pending_messages: int = 1_000
    """Messages held for one topic subscriber that cannot take more right now."""
    topic_pending_bytes: int = 16 * 1024 * 1024
    """Body bytes held for one such subscriber; the slow-consumer policy applies past
    either limit."""
    slow_consumer_policy: SlowConsumerPolicy = SlowConsumerPolicy.DROP_OLDEST
    """``drop-oldest``, ``drop-newest`` or ``disconnect``."""
    max_redeliveries: int = 5
    """A queue message NACKed or returned this many times more goes to the dead-letter
    queue; 0 dead-letters it at the first."""
    dead_letter_prefix: str = "DLQ."
    """``/queue/orders`` dead-letters to ``/queue/DLQ.orders``."""
    queue_ttl: dict[str, int] = field(default_factory=dict)
    """Milliseconds (at least 1) that messages sent to a queue live, by queue name:
    ``{"/queue/orders" = 60000}``; a name ending in ``*`` covers every queue whose name
    begins with what comes before it (the longest such entry wins, an exact name first).
    A SEND's ``expires`` or ``expiration`` may shorten it, never lengthen it."""
    dead_letter_expired: bool = False
    """Move expired queue messages to the dead-letter queue (with ``dead-letter-reason:
    expired``) instead of dropping them; either way they are counted."""
    max_subscriptions: int = 1_024
    """Per connection."""
    max_temp_queues_per_session: int = 100
    """``/temp-queue/`` names one connection may use (each is a queue of its own, deleted
    with the connection); a SEND or SUBSCRIBE that would use one more gets ERROR."""
    max_durable_subscriptions: int = 1_000
    """Durable topic subscriptions in the whole broker (each is a queue of its own, kept
    while its subscriber is away); a SUBSCRIBE that would make one more gets ERROR."""
    max_durable_subscriptions_per_user: int = 100
    """Durable topic subscriptions one user may own (anonymous clients count as one
    user), so that no one user takes the whole broker's ``max_durable_subscriptions``."""
    max_transactions: int = 16
    """Open transactions per connection; 0 refuses every BEGIN."""
    max_transaction_frames: int = 10_000
    """Frames buffered in one transaction."""
    max_transaction_bytes: int = 64 * 1024 * 1024
    """Body bytes buffered in all the open transactions of one connection."""
    memory_budget: int = field(default_factory=default_memory_budget)
    """Bytes that everything clients make the broker hold may add up to (queued and
    unacknowledged messages, topic backlogs, transactions, partial frames, output
    buffers); past it publishers are not read. Default: two fifths of the machine's
    memory. A string such as ``"256MiB"`` is accepted too."""
    memory_grace: float = 30.0
    """Seconds (above 0) a publisher may stay blocked by the memory budget before it gets an ERROR
    naming the budget and is closed."""
    store: str | None = None
    """Path of an SQLite file for queue messages sent with ``persistent:true``; None keeps
    everything in memory."""
    retain_topics: list[str] = field(default_factory=list)
    """Topics that keep their last messages for subscribers resuming with ``resume-from``
    or ``since`` (:mod:`stompbox.broker.retention`): exact names, or a name ending in
    ``*`` for every topic that begins with what comes before it. Empty (the default)
    turns retention off."""
    retain_messages: int = 1_000
    """Messages one retained topic keeps."""
    retain_bytes: int = 1024 * 1024
    """Body bytes one retained topic keeps."""
    retain_seconds: float = 3600.0
    """Seconds a retained message is kept."""
    retain_max_topics: int = 1_000
    """Topics that keep messages at once; past it, the one published to least recently
    forgets its own."""

    def __post_init__(self) -> None:
        if self.separator not in ("/", "."):
            raise ValueError(f"separator must be '/' or '.', not {self.separator!r}")
        self.memory_budget = parse_size(self.memory_budget, "memory_budget")
        if self.memory_budget <= 0:
            raise ValueError("memory_budget must be positive")
        if not isinstance(self.memory_grace, (int, float)) or self.memory_grace <= 0:
            raise ValueError(f"memory_grace must be a positive number, not {self.memory_grace!r}")
        for name, least in (
            ("queue_max_messages", 1),
            ("queue_max_bytes", 1),
            ("queue_high_water", 1),
            ("topic_pending_messages", 1),
            ("topic_pending_bytes", 1),
            ("max_redeliveries", 0),
            ("max_subscriptions", 1),
            ("max_temp_queues_per_session", 1),
            ("max_durable_subscriptions", 1),
            ("max_durable_subscriptions_per_user", 1),
            ("max_transactions", 0),
            ("max_transaction_frames", 1),
            ("max_transaction_bytes", 1),
            ("retain_messages", 1),
            ("retain_bytes", 1),
            ("retain_max_topics", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer of at least {least}, not {value!r}")
        if not isinstance(self.queue_ttl, dict):
            raise ValueError(f"queue_ttl must be a table of queue names, not {self.queue_ttl!r}")
        queues = [p for p, kind in self.prefixes.items() if kind is DestinationKind.QUEUE]
        for name, ttl in self.queue_ttl.items():
            if not isinstance(name, str) or not any(
                name.startswith(p) and len(name) > len(p) for p in queues
            ):
                raise ValueError(
                    f"queue_ttl: {name!r} is not a queue name under a queue prefix "
                    f"({', '.join(queues) or 'none configured'})"
                )
            if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
                raise ValueError(
                    f"queue_ttl {name!r} must be an integer of at least 1 (ms), not {ttl!r}"
                )
        for prefix in self.prefixes:
            if not prefix.startswith("/") or not prefix.endswith("/"):
                raise ValueError(f"destination prefix {prefix!r} must start and end with '/'")
        self._check_retention()

    def _check_retention(self) -> None:
        seconds = self.retain_seconds
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not 0 < seconds < float("inf")
        ):
            raise ValueError(f"retain_seconds must be a positive finite number, not {seconds!r}")
        if not isinstance(self.retain_topics, list):
            raise ValueError(f"retain_topics must be a list of topics, not {self.retain_topics!r}")
        topics = [p for p, kind in self.prefixes.items() if kind is DestinationKind.TOPIC]
        for name in self.retain_topics:
            if not isinstance(name, str) or not any(
                name.startswith(p) and len(name) > len(p) for p in topics
            ):
                raise ValueError(
                    f"retain_topics: {name!r} is not a topic name under a topic prefix "
                    f"({', '.join(topics) or 'none configured'})"
                )
