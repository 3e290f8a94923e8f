"""What a SUBSCRIBE or UNSUBSCRIBE frame names: the subscription id, within the session's
limit, its ``prefetch-count``, and the subscription an UNSUBSCRIBE ends.

STOMP 1.0 allows a SUBSCRIBE without ``id``, the destination then naming the
subscription, and an UNSUBSCRIBE by ``destination`` instead of ``id``. Routing the
destination, and everything past reading the frame, is the broker's.
"""

from __future__ import annotations

from stompbox.protocol.frames import Frame

from .config import BrokerConfig
from .errors import BrokerError
from .session import Session, Subscription
from .temporary import TEMP_PREFIX, TemporaryQueues

__all__ = ["new_subscription", "prefetch_count", "subscription_named"]


def new_subscription(session: Session, frame: Frame, config: BrokerConfig) -> tuple[str, str]:
    """A SUBSCRIBE's destination and subscription id, refused if the id is in use or the
    session holds ``max_subscriptions`` already."""
    destination = frame.get("destination") or ""
    sub_id = frame.get("id")
    if sub_id is None:  # STOMP 1.0: the destination identifies the subscription
        sub_id = destination
    if sub_id in session.subscriptions:
        raise BrokerError("duplicate subscription", f"subscription id {sub_id!r} is already in use")
    if len(session.subscriptions) >= config.max_subscriptions:
        raise BrokerError(
            f"max_subscriptions limit of {config.max_subscriptions} exceeded",
            "unsubscribe before subscribing again",
        )
    return destination, sub_id


def prefetch_count(frame: Frame) -> int:
    """A SUBSCRIBE's ``prefetch-count``: 0 (no limit) if absent, refused if not a number."""
    text = frame.get("prefetch-count", "0") or "0"
    if not (text.isascii() and text.isdigit()):
        raise BrokerError("invalid prefetch-count", f"prefetch-count {text!r} is not a number")
    return int(text)


def subscription_named(
    session: Session, frame: Frame, temporary: TemporaryQueues
) -> tuple[Subscription | None, str | None]:
    """The subscription an UNSUBSCRIBE names (None if there is none) and the name it
    used: its ``id``, or in STOMP 1.0 its ``destination``."""
    sub_id = frame.get("id")
    if sub_id is not None:
        return session.subscriptions.get(sub_id), sub_id
    destination = frame.get("destination")
    if destination is not None and destination.startswith(TEMP_PREFIX):
        destination = temporary.queue_of(session, destination)
    sub = next((s for s in session.subscriptions.values() if s.destination == destination), None)
    return sub, frame.get("destination")
