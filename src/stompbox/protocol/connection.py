"""What the server and client connections share: output queue, parser, heart-beats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from .events import ConnectionState
from .frames import Frame
from .heartbeat import Heartbeat
from .parser import DEFAULT_LIMITS, FrameParser, Limits
from .serializer import serialize, serialize_parts

__all__ = ["HEARTBEAT_EOL", "Connection"]

HEARTBEAT_EOL: Final = b"\n"


SEPARATE_BODY: Final = 64 * 1024
"""Bodies from this size go out as chunks of their own: joining them costs a copy."""


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
        self._out_size = 0
        self._eof = False
        self.on_output: Callable[[], None] | None = None
        """Called when output is queued while none was waiting: the transport's cue to
        write soon (once per event-loop turn, say) rather than after every frame."""

    def receive_data(self, data: bytes, now: float = 0.0) -> None:
        """Hand over received bytes; ``b""`` means the peer closed its end."""
        if data:
            self.heartbeat.last_received = now
            self._parser.feed(data)
        else:
            self._eof = True

    def send(self, frame: Frame) -> None:
        """Queue ``frame``, serialized for the negotiated version."""
        self._queue_frame(frame)

    def _queue_frame(self, frame: Frame) -> None:
        """Serialize and queue ``frame``: a large body as a chunk of its own, never copied
        into a joined frame (a relayed message's, say). Raises
        :class:`LocalProtocolError` before queueing anything if it cannot be written."""
        if len(frame.body) < SEPARATE_BODY:
            self._queue(serialize(frame, self.version))
            return
        head, body, end = serialize_parts(frame, self.version)
        self._queue(head)
        self._out.append(body)
        self._out.append(end)
        self._out_size += len(body) + 1

    def _queue(self, data: bytes) -> None:
        if not self._out and self.on_output is not None:
            self.on_output()
        self._out.append(data)
        self._out_size += len(data)

    @property
    def buffered_input(self) -> int:
        """Bytes received that do not make a complete frame yet."""
        return self._parser.buffered

    @property
    def buffered(self) -> int:
        """Bytes queued and not yet taken by :meth:`data_to_send` or :meth:`take_output`."""
        return self._out_size

    def take_output(self, now: float = 0.0) -> list[bytes]:
        """Take everything queued so far as a list of chunks, for one ``writelines``;
        notes the time for heart-beats."""
        out = self._out
        if out:
            self._out = []
            self._out_size = 0
            self.heartbeat.last_sent = now
        return out

    def data_to_send(self, now: float = 0.0) -> bytes:
        """Take everything queued so far, as one write; notes the time for heart-beats."""
        out = self.take_output(now)
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
            self._queue(HEARTBEAT_EOL)
