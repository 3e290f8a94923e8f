"""One SockJS session as state, sans-IO: the queue of messages for the client, the one
receiving request attached to it, and its deadlines (heartbeat, disconnect delay) computed
from a ``now`` the transport passes in.

The transports (:mod:`stompbox.sockjs.endpoint`) attach a receiver, :meth:`take` frames
and write them, call :meth:`tick` when :meth:`next_deadline` comes, and call
:meth:`deliver` with what the client sent; the handler sees only :meth:`send`,
:meth:`close`, flow control and ``scope``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .framing import CloseFrame, Frame, HeartbeatFrame, MessageFrame, OpenFrame

__all__ = [
    "GO_AWAY",
    "INTERRUPTED",
    "OVERFLOW",
    "SockJSHandler",
    "SockJSSession",
    "State",
]

GO_AWAY = CloseFrame(3000, "Go away!")
"""The protocol's ordinary close, from the server."""
INTERRUPTED = CloseFrame(1002, "Connection interrupted")
"""The client dropped a receiving request (protocol 0.3.3, HandlingClose)."""
ANOTHER_CONNECTION = CloseFrame(2010, "Another connection still open")
"""Answer to a second receiving request; the session itself goes on."""
OVERFLOW = CloseFrame(4500, "Send buffer overflow")
"""More than ``max_queued`` characters waited for the client. 4500 is Spring's
``SESSION_NOT_RELIABLE``, which it closes with for the same reason."""
TIMED_OUT = CloseFrame(3000, "Session timed out")
"""No receiving request came for ``disconnect_delay``; nobody is left to see the frame."""


class SockJSHandler(Protocol):
    """What an application implements; each method is called on the event loop."""

    def opened(self, session: SockJSSession) -> None:
        """A session began; ``session.close(...)`` here refuses it."""

    def received(self, session: SockJSSession, messages: list[str]) -> None:
        """The client sent ``messages``, in order."""

    def closed(self, session: SockJSSession) -> None:
        """The session ended, once, whatever ended it."""


class State(enum.Enum):
    OPEN = "open"
    """Created; the open frame goes to the first receiver."""
    CLOSED = "closed"
    """Closed; every receiver gets what was queued, then the close frame."""


class SockJSSession:
    """One SockJS session, whatever transport carries it."""

    def __init__(
        self,
        id: str,
        scope: Mapping[str, Any],
        handler: SockJSHandler,
        *,
        now: float,
        heartbeat: float | None = 25.0,
        disconnect_delay: float = 5.0,
        max_queued: int | None = 1 << 20,
    ) -> None:
        self.id = id
        self.scope = scope
        self.on_drain: Callable[[], None] | None = None
        self.state = State.OPEN
        self.expired = False
        """Closed and left without a receiver for ``disconnect_delay``: forget it."""
        self._handler = handler
        self._heartbeat = heartbeat
        self._disconnect_delay = disconnect_delay
        self._max_queued = max_queued
        self._queue: list[str] = []
        self._buffered = 0
        self._open_sent = False
        self._close_frame: CloseFrame | None = None
        self._wake: Callable[[], None] | None = None
        self._last_write = now
        self._heartbeat_due = False
        self._detached_at: float = now
        self._reading = True
        self._read_listeners: list[Callable[[], None]] = []
        self._opened = False

    # -- what the handler sees ----------------------------------------------------------

    def send(self, message: str) -> None:
        """Queue one message for the client; ignored once the session is closed."""
        if self.state is State.CLOSED:
            return
        self._queue.append(message)
        self._buffered += len(message)
        if self._max_queued is not None and self._buffered > self._max_queued:
            self._queue.clear()
            self._buffered = 0
            self._close(OVERFLOW)
        elif len(self._queue) == 1 and self._wake is not None:
            self._wake()

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close: the client gets what is queued, then ``c[code,"reason"]``."""
        self._close(CloseFrame(code, reason))

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def buffered(self) -> int:
        """Characters queued and not yet handed to a receiving request."""
        return self._buffered

    def pause_reading(self) -> None:
        """Stop delivering the client's messages: sends wait, the WebSocket is not read."""
        self._reading = False

    def resume_reading(self) -> None:
        self._reading = True
        self._notify_readers()

    # -- what the transports drive -------------------------------------------------------

    @property
    def reading(self) -> bool:
        """Whether the client's messages may be delivered now."""
        return self._reading or self.closed

    def add_read_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when reading resumes or the session closes."""
        self._read_listeners.append(callback)

    def start(self) -> None:
        """Tell the handler the session opened; called once, after its first receiver
        attached, so that whatever it sends or closes goes out after ``o``."""
        if not self._opened:
            self._opened = True
            self._handler.opened(self)

    def attach(self, now: float, wake: Callable[[], None]) -> bool:
        """Attach a receiving request; False if another one is attached (answer it with
        ``c[2010,...]``). ``wake`` is called when there is something to take."""
        if self._wake is not None:
            return False
        self._wake = wake
        self._last_write = now
        return True

    @property
    def attached(self) -> bool:
        return self._wake is not None

    def detach(self, now: float, *, interrupted: bool = False) -> None:
        """The receiving request ended; ``interrupted`` if the client dropped it, which
        closes the session (``c[1002,...]``)."""
        self._wake = None
        self._heartbeat_due = False
        self._detached_at = now
        if interrupted:
            self._close(INTERRUPTED)

    def take(self, now: float) -> Frame | None:
        """The next frame for the attached receiver, or None to wait for one."""
        frame: Frame | None
        if not self._open_sent:
            self._open_sent = True
            frame = OpenFrame()
        elif self._queue:
            frame = MessageFrame(tuple(self._queue))
            self._queue.clear()
            self._buffered = 0
        elif self._close_frame is not None:
            frame = self._close_frame
        elif self._heartbeat_due:
            frame = HeartbeatFrame()
        else:
            return None
        self._heartbeat_due = False
        self._last_write = now
        if isinstance(frame, MessageFrame) and self.on_drain is not None:
            self.on_drain()
        return frame

    def deliver(self, messages: list[str]) -> None:
        """Hand the client's messages to the handler (dropped once closed)."""
        if messages and not self.closed:
            self._handler.received(self, messages)

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has work: the next heartbeat while a receiver is attached,
        else the end of the disconnect delay."""
        if self.expired:
            return None
        if self._wake is not None:
            return None if self._heartbeat is None else self._last_write + self._heartbeat
        return self._detached_at + self._disconnect_delay

    def tick(self, now: float) -> None:
        """Due a heartbeat or the disconnect delay's end? Then do it."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return
        if self._wake is not None:
            self._heartbeat_due = True
            self._wake()
        else:
            self._close(TIMED_OUT)
            self.expired = True

    def _close(self, frame: CloseFrame) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self._close_frame = frame
        if self._wake is not None:
            self._wake()
        self._notify_readers()
        self._handler.closed(self)

    def _notify_readers(self) -> None:
        listeners, self._read_listeners = self._read_listeners, []
        for callback in listeners:
            callback()

    def __repr__(self) -> str:
        return f"<SockJSSession {self.id!r} {self.state.value}>"
