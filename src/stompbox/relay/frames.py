"""What changes in a frame on its way through the external broker: the verified sender.

stompbox stamps ``user-id`` with the sender's verified name (RabbitMQ's rule); through a
relay it cannot travel as ``user-id``, which RabbitMQ requires to name the broker login
(the relay's, not the sender's). It travels as :data:`RELAYED_USER` and is ``user-id``
again for the receiving client, whichever instance it is connected to.
"""

from __future__ import annotations

from stompbox.protocol import Frame

__all__ = ["PRIVATE_QUEUE", "RELAYED_USER", "from_broker", "to_broker"]

RELAYED_USER = "stompbox-user-id"

PRIVATE_QUEUE = (("durable", "false"), ("auto-delete", "true"), ("exclusive", "false"))
"""Headers of every SUBSCRIBE and SEND to a session's private queue on the broker: on
RabbitMQ the queue is then deleted with its last consumer (the session), rather than left
durable for ever; other brokers ignore them. The same on both, or RabbitMQ refuses the
second declaration."""


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
