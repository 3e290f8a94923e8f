"""What the server and client connections share: output queue, parser, heart-beats."""

from __future__ import annotations

from typing import Final

from .events import ConnectionState
from .frames import Frame
from .heartbeat import Heartbeat
from .parser import DEFAULT_LIMITS, FrameParser, Limits
from .serializer import serialize

__all__ = ["HEARTBEAT_EOL", "Connection"]

HEARTBEAT_EOL: Final = b"\n"


class Connection:
    """Sans-IO base: bytes go in with :meth:`receive_data`, out with :meth:`data_to_send`.

    Output is queued rather than returned because a side writes frames nobody asked for
    (heart-beats, RECEIPT, ERROR before closing). ``now`` arguments are monotonic seconds.
    """

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS, heartbeat_grace: float = 2.0) -> None:
        self.state = ConnectionState.AWAITING_CONNECT
        self.version: str | None = None
        self.limits = limits
        self.heartbeat = Heartbeat(grace=heartbeat_grace)
        self._parser = FrameParser(None, limits)
        self._out: list[bytes] = []
        self._eof = False

    def receive_data(self, data: bytes, now: float = 0.0) -> None:
        """Hand over received bytes; ``b""`` means the peer closed its end."""
        if data:
            self.heartbeat.last_received = now
            self._parser.feed(data)
        else:
            self._eof = True

    def send(self, frame: Frame) -> None:
        """Queue ``frame``, serialized for the negotiated version."""
        self._out.append(serialize(frame, self.version))

    def send_bytes(self, data: bytes) -> None:
        """Queue bytes already serialized for this connection (a shared MESSAGE, say)."""
        self._out.append(data)

    def data_to_send(self, now: float = 0.0) -> bytes:
        """Take everything queued so far, as one write; notes the time for heart-beats."""
        out = self._out
        if not out:
            return b""
        self._out = []
        self.heartbeat.last_sent = now
        return out[0] if len(out) == 1 else b"".join(out)

    @property
    def closed(self) -> bool:
        return self.state is ConnectionState.CLOSED

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has something to do, or ``None``."""
        if self.state is not ConnectionState.CONNECTED:
            return None
        return self.heartbeat.next_deadline()

    def _send_heartbeat_if_due(self, now: float) -> None:
        if not self._out and self.heartbeat.send_due(now):
            self._out.append(HEARTBEAT_EOL)
