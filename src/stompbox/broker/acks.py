"""Which delivered message an ACK or NACK names, and where a late one may still find it.

STOMP 1.2 names a message by the ``ack`` header of its MESSAGE frame, which the broker
makes ``<message-id>.<subscription number>`` (unique per subscription, so that one
message delivered to two subscriptions of a session is acknowledged twice); 1.0 and 1.1
name it by ``message-id``, with ``subscription`` if the client sends one.

A queue subscription that ends (UNSUBSCRIBE) while messages it delivered are unacked
is kept with its session, which may still ACK or NACK them: a consumer can take exactly
what it processed (``stompbox subscribe --count``: UNSUBSCRIBE, then ACK the last
message) instead of having the ACK's refill handed back as a redelivery.
"""

from __future__ import annotations

from collections.abc import Iterable

from stompbox.protocol.frames import Frame

from .errors import BrokerError
from .session import Session, Subscription

__all__ = ["find_unacked", "keep_unacked"]


def find_unacked(session: Session, frame: Frame) -> tuple[Subscription, str]:
    """The subscription holding the unacked message an ACK or NACK names, and its ack
    id; raises :class:`BrokerError` if the session has no such message."""
    subs: Iterable[Subscription] = session.subscriptions.values()
    if session.unsubscribed:
        subs = [*subs, *session.unsubscribed.values()]
    if session.version == "1.2":
        ack_id = frame.get("id") or ""
        message_id, _, number = ack_id.rpartition(".")
        for sub in subs:
            if str(sub.number) == number and ack_id in sub.unacked:
                return sub, ack_id
    else:
        message_id = frame.get("message-id") or ""
        sub_id = frame.get("subscription")
        for sub in subs:
            if sub_id is not None and sub.id != sub_id:
                continue
            ack_id = f"{message_id}.{sub.number}"
            if ack_id in sub.unacked:
                return sub, ack_id
        ack_id = message_id
    raise BrokerError(
        f"unknown {frame.command} id",
        f"{frame.command} names {ack_id!r}, which is not an unacknowledged message "
        "of this connection (already acknowledged, or an auto-ack subscription?)",
    )


def keep_unacked(session: Session, sub: Subscription, limit: int) -> Subscription | None:
    """Keep an UNSUBSCRIBEd queue subscription with its session for late ACKs, at most
    ``limit`` of them: past that, return the oldest, whose messages go back to its
    queue."""
    kept = session.unsubscribed
    oldest = kept.pop(next(iter(kept))) if len(kept) >= limit else None
    kept[sub.number] = sub
    return oldest
