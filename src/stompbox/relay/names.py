"""Names on the relayed broker that belong to stompbox, out of every client's reach.

Through a relay, stompbox cannot rely on a broker to keep a session's private user
destinations private: RabbitMQ's and ActiveMQ's wildcards (``*``, ``#``, ``>``), and
RabbitMQ's ``/exchange/`` and ``/amq/queue/`` aliases, reach any name. So every name
stompbox makes there starts with one reserved word, ``stompbox`` (a private queue is
``/queue/stompbox.u.<session id>.updates``, the instances' registry
``/topic/stompbox.user-registry``), and a client may not name, nor match with a wildcard,
any destination whose first word is that one or a wildcard. ``/topic/stock.*`` stays
allowed; ``/topic/#`` and ``/topic/*.eu`` are refused.
"""

from __future__ import annotations

__all__ = ["RESERVED", "private_name", "reaches_reserved"]

RESERVED = "stompbox"
"""The first word of every name stompbox makes on a relayed broker."""

_WILDCARDS = frozenset("*#>")


def private_name(destination: str, session_id: str) -> str:
    """The broker name of ``destination`` (``/queue/updates``) for one session."""
    _, kind, rest = destination.split("/", 2)
    return f"/{kind}/{RESERVED}.u.{session_id}.{rest}"


def reaches_reserved(destination: str) -> bool:
    """Whether a client's SEND or SUBSCRIBE to ``destination`` could reach a name of
    stompbox's: its key (what follows ``/topic/``, ``/queue/``, ``/amq/queue/``, or
    ``/exchange/<name>/``) starts with the reserved word or with a wildcard."""
    parts = destination.split("/")
    if len(parts) < 3:
        return False
    skip = 3 if parts[1] in ("exchange", "amq") else 2
    key = "/".join(parts[skip:])
    first = key.split(".", 1)[0]
    return (
        first == RESERVED
        or not _WILDCARDS.isdisjoint(first)
        or (
            skip == 3 and key == ""  # /exchange/amq.topic: every routing key
        )
    )
