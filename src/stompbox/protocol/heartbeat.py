"""Heart-beat arithmetic (STOMP 1.2 "Heart-beating"), with time as an argument.

No clocks here: callers pass ``now`` (seconds, monotonic) and sleep until
:meth:`Heartbeat.next_deadline`. That keeps every rule testable without waiting.
"""

from __future__ import annotations

from .errors import RemoteProtocolError

__all__ = [
    "Heartbeat",
    "format_heartbeat",
    "honour_heartbeat",
    "negotiate_heartbeat",
    "parse_heartbeat",
]


def parse_heartbeat(value: str | None) -> tuple[int, int]:
    """Parse a ``heart-beat`` header (``"cx,cy"`` in milliseconds); absent means ``0,0``."""
    if value is None:
        return (0, 0)
    parts = [part.strip(" \t") for part in value.split(",")]
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() for part in parts):
        raise RemoteProtocolError(
            "invalid heart-beat header",
            f"heart-beat {value!r} is not two non-negative integers separated by a comma",
        )
    return (int(parts[0]), int(parts[1]))


def format_heartbeat(value: tuple[int, int]) -> str:
    return f"{value[0]},{value[1]}"


def negotiate_heartbeat(ours: tuple[int, int], theirs: tuple[int, int]) -> tuple[int, int]:
    """Return ``(send_ms, receive_ms)`` for this side; 0 disables that direction.

    ``ours`` is what this side announced (smallest interval it can send, interval it wants
    to receive); ``theirs`` is the peer's. We send every ``max(ours[0], theirs[1])`` unless
    either is 0, and expect to hear every ``max(theirs[0], ours[1])`` unless either is 0.
    """
    send = 0 if ours[0] == 0 or theirs[1] == 0 else max(ours[0], theirs[1])
    receive = 0 if theirs[0] == 0 or ours[1] == 0 else max(theirs[0], ours[1])
    return (send, receive)


def honour_heartbeat(theirs: tuple[int, int], ours: tuple[int, int], floor: int) -> tuple[int, int]:
    """Return a server's ``(send_ms, receive_ms)`` for a client that asked ``theirs``.

    The client's intervals are used down to ``floor``, as RabbitMQ and ActiveMQ do: we
    send every ``max(cy, floor)`` and expect data every ``max(cx, floor)``, 0 staying 0.
    ``ours`` (the server's configuration) only switches a direction off, with a 0. A
    server that announces exactly these values in CONNECTED leads the client's own
    :func:`negotiate_heartbeat` to the same intervals, whatever its offer.
    """
    cx, cy = theirs
    send = max(cy, floor) if cy and ours[0] else 0
    receive = max(cx, floor) if cx and ours[1] else 0
    return (send, receive)


class Heartbeat:
    """When to send a heart-beat and when the peer counts as dead, for one connection.

    Any byte in either direction counts: a frame resets the send timer as a heart-beat
    would, and any received byte is a sign of life. The peer is dead after ``grace`` times
    the negotiated receive interval of silence (the spec leaves the margin to us).
    """

    __slots__ = ("grace", "last_received", "last_sent", "receive_interval", "send_interval")

    def __init__(
        self, send_ms: int = 0, receive_ms: int = 0, *, now: float = 0.0, grace: float = 2.0
    ) -> None:
        self.send_interval = send_ms / 1000.0
        self.receive_interval = receive_ms / 1000.0
        self.grace = grace
        self.last_sent = now
        self.last_received = now

    def send_due(self, now: float) -> bool:
        return bool(self.send_interval) and now - self.last_sent >= self.send_interval

    def peer_dead(self, now: float) -> bool:
        return (
            bool(self.receive_interval)
            and now - self.last_received > self.receive_interval * self.grace
        )

    def next_deadline(self) -> float | None:
        """The next moment at which :meth:`send_due` or :meth:`peer_dead` may turn true."""
        deadlines = []
        if self.send_interval:
            deadlines.append(self.last_sent + self.send_interval)
        if self.receive_interval:
            deadlines.append(self.last_received + self.receive_interval * self.grace)
        return min(deadlines) if deadlines else None
