"""What changes in a frame on its way through the external broker: the verified sender.

stompbox stamps ``user-id`` with the sender's verified name (RabbitMQ's rule); through a
relay it cannot travel as ``user-id``, which RabbitMQ requires to name the broker login
(the relay's, not the sender's). It travels as :data:`RELAYED_USER` and is ``user-id``
again for the receiving client, whichever instance it is connected to.
"""

from __future__ import annotations

from stompbox.protocol import Frame

__all__ = [
    "PRIVATE_QUEUE_HEADERS",
    "RELAYED_USER",
    "from_broker",
    "private_queue_headers",
    "to_broker",
]

RELAYED_USER = "stompbox-user-id"

PRIVATE_QUEUE_HEADERS = frozenset(("durable", "auto-delete", "exclusive", "x-expires"))
"""The names :func:`private_queue_headers` sets, which a receiving client is not shown."""


def private_queue_headers(expires: float) -> tuple[tuple[str, str], ...]:
    """Headers of every SUBSCRIBE and SEND to a session's private queue on the broker.

    On RabbitMQ the queue is durable and not auto-deleted, so that what it holds waits
    while the session's broker connection is away (an auto-deleted queue goes with its
    last consumer, and a transient one with a broker restart); ``x-expires`` (``expires``
    seconds, in ms) deletes it once nothing has used it for that long, so that one whose
    session ended does not stay for ever. Other brokers ignore these headers. Every
    declaration must carry the same ones, or RabbitMQ refuses it."""
    return (
        ("durable", "true"),
        ("auto-delete", "false"),
        ("exclusive", "false"),
        ("x-expires", str(max(1, round(expires * 1000)))),
    )


def to_broker(frame: Frame) -> Frame:
    """A SEND for the external broker: its ``user-id`` (vouched for already) travels as
    :data:`RELAYED_USER`; a :data:`RELAYED_USER` of the sender's own is dropped."""
    headers = frame.headers
    if not any(name == "user-id" or name == RELAYED_USER for name, _ in headers):
        return frame
    out = tuple(
        (RELAYED_USER, value) if name == "user-id" else (name, value)
        for name, value in headers
        if name != RELAYED_USER
    )
    return Frame(frame.command, out, frame.body)


def from_broker(frame: Frame) -> Frame:
    """A MESSAGE from the external broker: :data:`RELAYED_USER` is the ``user-id`` the
    sending instance vouched for; a ``user-id`` the broker set (its own login) goes."""
    headers = frame.headers
    if not any(name == RELAYED_USER for name, _ in headers):
        return frame
    out = tuple(
        ("user-id", value) if name == RELAYED_USER else (name, value)
        for name, value in headers
        if name != "user-id"
    )
    return Frame(frame.command, out, frame.body)
