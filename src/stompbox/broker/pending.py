"""Topic messages held for a subscriber that has no room: the slow-consumer policy.

A topic subscriber whose connection's output is full (or whose prefetch-count is
reached) is not handed a message; it is kept for it in ``sub.pending``, up to
``topic_pending_messages`` messages or ``topic_pending_bytes`` body bytes, whichever
comes first, charged to the memory budget. Past that, ``slow_consumer_policy`` says what
gives: the new message (``drop_newest``), the oldest held ones (``drop_oldest``), or the
subscriber's connection (``disconnect``). Queue messages never wait here: they stay in
their queue for other consumers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from .config import BrokerConfig, SlowConsumerPolicy
from .memory import MESSAGE_OVERHEAD, MemoryBudget
from .message import Message
from .session import Subscription
from .stats import BrokerStats

__all__ = ["hold", "release", "take_due"]

log = logging.getLogger("stompbox.broker")


def hold(
    sub: Subscription,
    message: Message,
    config: BrokerConfig,
    memory: MemoryBudget,
    stats: BrokerStats,
) -> None:
    """Keep a topic message for a subscriber without room, per the slow-consumer policy."""
    pending = sub.pending
    size = len(message.body)
    if (
        len(pending) < config.topic_pending_messages
        and sub.pending_bytes + size <= config.topic_pending_bytes
    ):
        pending.append(message)
        sub.pending_bytes += size
        memory.charge(size + MESSAGE_OVERHEAD)
        return
    policy = config.slow_consumer_policy
    stats.dropped_slow_consumer += 1
    limit = (
        f"topic_pending_messages={config.topic_pending_messages}"
        if len(pending) >= config.topic_pending_messages
        else f"topic_pending_bytes={config.topic_pending_bytes}"
    )
    if not sub.dropping:
        sub.dropping = True  # log once per episode, not once per message
        log.warning(
            "subscriber %s of %s is %d messages (%d bytes) behind, past %s; policy %s",
            sub.session.id,
            sub.destination,
            len(pending),
            sub.pending_bytes,
            limit,
            policy.value,
        )
    if policy is SlowConsumerPolicy.DROP_OLDEST:
        while pending and (
            len(pending) >= config.topic_pending_messages
            or sub.pending_bytes + size > config.topic_pending_bytes
        ):
            dropped = len(pending.popleft().body)
            sub.pending_bytes -= dropped
            memory.release(dropped + MESSAGE_OVERHEAD)
        if size <= config.topic_pending_bytes:
            pending.append(message)
            sub.pending_bytes += size
            memory.charge(size + MESSAGE_OVERHEAD)
    elif policy is SlowConsumerPolicy.DISCONNECT:
        session = sub.session
        if not session.closed:  # not once more for its other subscriptions
            stats.disconnected_slow_consumer += 1
        log.warning("disconnecting slow consumer %s on %s", session.id, sub.destination)
        session.sink.fail(
            "slow consumer",
            f"subscription {sub.id} to {sub.destination} fell behind by more than "
            f"{limit} while its client did not read",
        )


def take_due(
    sub: Subscription, memory: MemoryBudget, stats: BrokerStats, clock: Callable[[], float]
) -> Iterator[Message]:
    """The held messages to deliver, oldest first, while the subscriber has room (it is
    asked again after each is delivered); one past its deadline (``clock`` is in
    seconds) is dropped and counted, never dead-lettered."""
    pending = sub.pending
    while pending and sub.has_room():
        message = pending.popleft()
        sub.pending_bytes -= len(message.body)
        memory.release(len(message.body) + MESSAGE_OVERHEAD)
        if message.deadline is not None and message.deadline <= clock() * 1000:
            stats.expired += 1
            continue
        yield message
    if not pending:
        sub.dropping = False


def release(sub: Subscription, memory: MemoryBudget) -> None:
    """Drop what an ended topic subscription held: its pending and unacked messages."""
    held = len(sub.unacked) + len(sub.pending)
    if held:
        size = sum([len(m.body) for m in sub.unacked.values()]) + sub.pending_bytes
        memory.release(size + held * MESSAGE_OVERHEAD)
    sub.unacked.clear()
    sub.pending.clear()
    sub.pending_bytes = 0
