"""Reading back a previous run's persistent messages, for the broker to queue again.

Only queue messages are stored. A message whose destination no configured prefix covers
now is left in the store (a later configuration may route it again) and logged; one in
the queue of a durable subscription removed meanwhile goes. A durable subscription's
copy keeps the topic it was published to as its last header, ``destination``, which is
taken off again here so that its MESSAGE frames show the topic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from .config import DestinationKind
from .durable import DurableSubscriptions
from .errors import BrokerError
from .expiry import priority_of
from .message import Message
from .store import MessageStore

__all__ = ["stored_messages"]

log = logging.getLogger("stompbox.broker")


def stored_messages(
    store: MessageStore,
    route: Callable[[str], tuple[str, DestinationKind, bool]],
    durable: DurableSubscriptions,
    new_id: Callable[[], str],
) -> Iterator[Message]:
    """The stored messages to queue again, oldest first, each with its store id, delivery
    attempts, deadline (if it has one, perhaps passed) and priority, and a new message id
    (``new_id``)."""
    for stored, destination, headers, body, redeliveries, expires in store.load():
        try:
            _, kind, _ = route(destination)
        except BrokerError:
            log.warning("stored message %d for %s: no such destination now", stored, destination)
            continue
        if kind is not DestinationKind.QUEUE:
            continue
        shown = None
        if durable.reserved(destination):
            if destination not in durable.queues:  # its binding was removed
                store.remove(stored)
                continue
            if headers and headers[-1][0] == "destination":  # the topic, stored last
                shown, headers = headers[-1][1], headers[:-1]
        message = Message(destination, new_id(), headers, body)
        message.shown_destination = shown
        message.redeliveries = redeliveries
        message.stored = stored
        if expires:
            message.deadline = expires
        message.priority = priority_of(headers)
        yield message
