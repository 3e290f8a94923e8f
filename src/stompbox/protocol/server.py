"""The server side of a STOMP connection, as a sans-IO state machine."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from .connection import Connection
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    ConnectionClosed,
    ConnectionState,
    ConnectTimeout,
    FrameTimeout,
    HeartbeatTimeout,
)
from .frames import SUPPORTED_VERSIONS, Frame
from .heartbeat import format_heartbeat, honour_heartbeat, parse_heartbeat
from .message import OutgoingMessage, message_head
from .parser import DEFAULT_LIMITS, Limits
from .rules import client_frame_problem, negotiate_version
from .serializer import writable_headers

__all__ = ["CONNECT_LIMITS", "ServerConnection", "ServerEvent", "fan_out"]

ServerEvent = Frame | HeartbeatTimeout | ConnectionClosed

CONNECT_LIMITS: Final = Limits(
    max_frame_size=16 * 1024, max_body_size=16 * 1024, max_headers=128, max_header_length=8 * 1024
)
"""What a peer may send before it has connected: little, so that unauthenticated peers
cannot make the server buffer much (the past CVEs of STOMP servers)."""

_S = ConnectionState
_HEAD_CACHE_LIMIT = 4096

log = logging.getLogger("stompbox.protocol")


class ServerConnection(Connection):
    """Validates what a client sends and frames what the server answers.

    Heart-beats follow the client's ``heart-beat`` header down to ``heartbeat_floor`` (ms),
    so that a client cannot make the server wake every millisecond; a 0 in ``heartbeat``
    turns that direction off (:func:`~stompbox.protocol.heartbeat.honour_heartbeat`).
    ``output_limit`` (bytes, ``None`` for none) is where :meth:`send_message` starts
    answering that the output is full, so that a caller hands a subscriber no more than
    it can take. ``heartbeat_required`` (ms, 0 = off) closes clients silent that long
    (times the grace factor) even when they negotiated no heart-beats, for operators who
    would rather reclaim them than trust TCP keep-alive.
    ``frame_timeout`` (seconds, ``None`` for none) is how long a frame may take to arrive
    once it has begun: a client cannot park the server on half a frame.

    Drive it like h11: :meth:`receive_data`, then iterate :meth:`events`. A CONNECT (or
    STOMP) frame is yielded for the caller to authenticate, then answered with
    :meth:`accept` or :meth:`reject`; events are validated lazily, so frames pipelined
    behind a CONNECT are judged in the state that :meth:`accept` leaves. When the client
    breaks the protocol, :meth:`events` queues an ERROR frame, moves to ``CLOSED`` and
    raises :class:`RemoteProtocolError`: flush :meth:`data_to_send`, then close.
    """

    def __init__(
        self,
        *,
        now: float = 0.0,
        versions: tuple[str, ...] = SUPPORTED_VERSIONS,
        heartbeat: tuple[int, int] = (10_000, 10_000),
        heartbeat_grace: float = 2.0,
        heartbeat_floor: int = 1_000,
        heartbeat_required: int = 0,
        limits: Limits = DEFAULT_LIMITS,
        connect_limits: Limits = CONNECT_LIMITS,
        connect_timeout: float | None = 5.0,
        frame_timeout: float | None = None,
        output_limit: int | None = None,
    ) -> None:
        super().__init__(limits=limits, heartbeat_grace=heartbeat_grace)
        self._room = sys.maxsize if output_limit is None else output_limit
        self._heads: dict[str, bytes] = {}
        self.versions = versions
        self.heartbeat_offer = heartbeat
        self.heartbeat_floor = heartbeat_floor
        self.heartbeat_required = heartbeat_required
        self._parser.limits = connect_limits
        self._connect_deadline = None if connect_timeout is None else now + connect_timeout
        self._client_heartbeat = (0, 0)
        self._offered_version = False
        self.frame_timeout = frame_timeout
        self._frame_began = now
        """When the bytes now buffered began to arrive, at the latest."""
        self._after_connect: list[Frame] = []
        """Frames that arrived behind the CONNECT, until it is answered."""
        self.receipts_sent = 0
        """RECEIPT frames queued, for a server's metrics."""
        self.on_error: Callable[[str, RemoteProtocolError | None], None] | None = None
        """Called with each ERROR frame's ``message`` as it is queued, and the client's
        protocol error that caused it (None when the caller sent it): a server's count
        of ERRORs by kind."""

    @property
    def output_limit(self) -> int | None:
        """Queued bytes at which :meth:`send_message` says the output is full; a server
        may lower it by what its socket still buffers."""
        return None if self._room == sys.maxsize else self._room

    @output_limit.setter
    def output_limit(self, limit: int | None) -> None:
        self._room = sys.maxsize if limit is None else limit

    # -- input -------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float = 0.0) -> None:
        if not self._parser.buffered:
            self._frame_began = now
        super().receive_data(data, now)

    def events(self) -> Iterator[ServerEvent]:
        """Yield valid client frames and other events, in order.

        Raises :class:`RemoteProtocolError` (after queueing the ERROR frame) at the first
        frame that breaks the protocol; the frames before it are yielded first.
        """
        while True:
            if self.state is _S.CLOSED:
                return
            if self._after_connect:
                frames, self._after_connect = self._after_connect, []
            else:
                try:
                    frames = self._parser.frames()
                except RemoteProtocolError as exc:
                    raise self._fail(exc) from None
                if not frames:
                    break
                # what is left began with the last read, the one that completed these frames
                self._frame_began = self.heartbeat.last_received
            for frame in frames:
                state = self.state
                if state is _S.CONNECTED:  # the common case first, without a call
                    problem = client_frame_problem(frame, self.version)  # type: ignore[arg-type]
                elif state is not _S.AWAITING_CONNECT and state is not _S.CONNECTING:
                    return  # closed; nothing counts after DISCONNECT (STOMP 1.2 "DISCONNECT")
                else:
                    problem = self._check(frame)  # before CONNECTED
                    if problem is None:
                        # the CONNECT, first of its batch: the caller may answer it later
                        # (authentication can take a while), so what came behind it waits
                        # here for the next call rather than in this generator
                        self._after_connect = frames[1:]
                        yield frame
                        break
                if problem is not None:
                    raise self._fail(RemoteProtocolError(problem, receipt=frame.get("receipt")))
                if frame.command == "DISCONNECT":
                    self.state = _S.DISCONNECTING
                yield frame
        if self._eof and not self.closed:
            clean = self.state is _S.DISCONNECTING and not self._parser.buffered
            self.state = _S.CLOSED
            yield ConnectionClosed(clean)

    def _check(self, frame: Frame) -> str | None:
        """Judge a frame before CONNECTED (:meth:`events` judges the rest itself)."""
        if self.state is _S.AWAITING_CONNECT:
            if frame.command != "CONNECT" and frame.command != "STOMP":
                return f"expected a CONNECT frame, got {frame.command!r}"
            return self._begin_connect(frame)
        # CONNECTING: the caller pulled the next event before answering the CONNECT.
        raise LocalProtocolError("call accept() or reject() before reading more events")

    def _begin_connect(self, frame: Frame) -> str | None:
        accept_version = frame.get("accept-version")
        version = negotiate_version(accept_version, self.versions)
        if version is None:
            return (
                f"no common protocol version: client accepts {accept_version}, "
                f"server supports {','.join(self.versions)}"
            )
        try:
            self._client_heartbeat = parse_heartbeat(frame.get("heart-beat"))
        except RemoteProtocolError as exc:
            return f"{exc.message}: {exc.detail}"
        self.version = version
        self._offered_version = accept_version is not None
        self.state = _S.CONNECTING
        return None

    # -- output ------------------------------------------------------------------------

    def accept(
        self,
        now: float = 0.0,
        *,
        session: str | None = None,
        server: str | None = "stompbox",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Answer the pending CONNECT with CONNECTED, negotiating version and heart-beats."""
        if self.state is not _S.CONNECTING:
            raise LocalProtocolError(f"accept() needs a pending CONNECT, state is {self.state}")
        floor = self.heartbeat_floor
        negotiated = honour_heartbeat(self._client_heartbeat, self.heartbeat_offer, floor)
        send_ms, receive_ms = negotiated
        if self.heartbeat_required and not receive_ms:
            # The operator's choice, beyond the spec (and not announced): reclaim silent
            # clients even when they negotiated no heart-beats.
            receive_ms = max(self.heartbeat_required, floor)
        self.heartbeat.send_interval = send_ms / 1000.0
        self.heartbeat.receive_interval = receive_ms / 1000.0
        self.heartbeat.last_sent = self.heartbeat.last_received = now
        out: list[tuple[str, str]] = []
        if self._offered_version:
            out.append(("version", self.version))  # type: ignore[arg-type]
        out.append(("heart-beat", format_heartbeat(negotiated)))
        if session is not None:
            out.append(("session", session))
        if server is not None:
            out.append(("server", server))
        out.extend(headers)
        self.state = _S.CONNECTED
        self._parser.version = self.version
        self._parser.limits = self.limits
        self._connect_deadline = None
        self.send(Frame("CONNECTED", tuple(out)))

    def reject(self, message: str, detail: str = "") -> None:
        """Refuse the pending CONNECT (bad credentials, say) with an ERROR, and close."""
        self.send_error(message, detail)

    def send_receipt(self, frame: Frame) -> None:
        """Queue the RECEIPT that ``frame`` asked for, if it carried a ``receipt`` header.

        Call it once the frame's effect is done: a receipt promises that.
        """
        receipt = frame.get("receipt")
        if receipt is not None:
            self.send(Frame("RECEIPT", (("receipt-id", receipt),)))
            self.receipts_sent += 1
        if frame.command == "DISCONNECT":
            self.state = _S.CLOSED

    def send_message(self, subscription: str, ack: str | None, message: OutgoingMessage) -> bool:
        """Queue a MESSAGE of ``message`` for ``subscription``; return whether the queued
        output is still below ``output_limit``.

        ``ack`` is the STOMP 1.2 ``ack`` header (``None`` leaves it out: auto ack, or an
        older version, whose clients acknowledge by message-id). The message's shared tail
        is encoded once per version and reused for every subscriber.
        """
        head = self._heads.get(subscription)
        if head is None:
            head = self._message_head(subscription)
        if message._tail_version == self.version:  # the common case, without a call
            tail = message._tail
        else:
            tail = message.tail(self.version)  # type: ignore[arg-type]
        out = self._out
        if not out and self.on_output is not None:
            self.on_output()
        if ack is None:
            out += head, tail
            size = self._out_size + len(head) + len(tail)
        else:
            line = f"ack:{ack}\n".encode()
            out += head, line, tail
            size = self._out_size + len(head) + len(line) + len(tail)
        self._out_size = size
        return size < self._room

    def _message_head(self, subscription: str) -> bytes:
        heads = self._heads
        if len(heads) >= _HEAD_CACHE_LIMIT:
            heads.clear()  # subscription ids churn: keep the cache bounded
        head = heads[subscription] = message_head(subscription, self.version)
        return head

    def send_error(
        self,
        message: str,
        detail: str = "",
        *,
        frame: Frame | None = None,
        headers: Iterable[tuple[str, str]] = (),
        cause: RemoteProtocolError | None = None,
    ) -> None:
        """Queue an ERROR frame and close: STOMP requires closing after an ERROR.

        ``frame`` is the offending frame, whose ``receipt`` is echoed as ``receipt-id``;
        ``cause`` the client's protocol error it answers, if any (for ``on_error``).
        The ERROR is always written, whatever the text: line breaks in ``message`` are
        shown as ``\\n`` where the version cannot escape them, and a header it cannot
        write (a 1.0 client's receipt with a CR) is left out and named in the body.
        """
        version = self.version
        extra: list[tuple[str, str]] = []
        receipt = frame.get("receipt") if frame is not None else None
        if receipt is not None:
            extra.append(("receipt-id", receipt))
        extra.extend(headers)
        kept, dropped = writable_headers(tuple(extra), version)
        for name, reason in dropped:
            detail += (
                f"\n(header {name!r} is left out of this ERROR frame: {reason}, which "
                f"STOMP {version or '1.0'} cannot write)"
            )
        body = detail.encode()
        out = (("message", _writable_text(message, version)), *kept)
        if body:
            out += (("content-type", "text/plain"),)
        self.send(Frame("ERROR", out, body))
        self.state = _S.CLOSED
        if self.on_error is not None:
            self.on_error(message, cause)

    def send(self, frame: Frame) -> None:
        """Queue ``frame``, serialized for the negotiated version.

        A MESSAGE (an application's own) loses the headers the version cannot write, as
        a broker message's copy does; any other frame that cannot be written raises
        :class:`LocalProtocolError` before anything is queued.
        """
        if self.state is _S.CLOSED:
            raise LocalProtocolError(f"cannot send {frame.command}: the connection is closed")
        try:
            self._queue_frame(frame)
        except LocalProtocolError:
            if frame.command != "MESSAGE":
                raise
            kept, dropped = writable_headers(frame.headers, self.version)
            log.warning(
                "MESSAGE %s: left out for a STOMP %s client, which cannot write them: %s",
                frame.get("message-id"),
                self.version,
                ", ".join(f"header {name!r} ({reason})" for name, reason in dropped),
            )
            self._queue_frame(frame._replace(headers=kept))

    def _fail(self, exc: RemoteProtocolError) -> RemoteProtocolError:
        if self.state is not _S.CLOSED:
            extra: tuple[tuple[str, str], ...] = ()
            if exc.message.startswith("no common protocol version"):
                extra = (("version", ",".join(self.versions)),)
            if exc.receipt is not None:
                extra += (("receipt-id", exc.receipt),)
            detail = exc.detail or exc.message
            if exc.offset is not None:
                detail = f"{detail} (at byte {exc.offset} of the stream)"
            self.send_error(exc.message, detail, headers=extra, cause=exc)
        return exc

    # -- time --------------------------------------------------------------------------

    def not_reading(self, now: float) -> None:
        """The server is not reading this client (back-pressure): neither its silence
        nor an unfinished frame is its doing, so both clocks start again at ``now``."""
        self.heartbeat.last_received = now
        self._frame_began = now

    def next_deadline(self) -> float | None:
        if self.state is _S.AWAITING_CONNECT or self.state is _S.CONNECTING:
            return self._connect_deadline
        deadline = super().next_deadline()
        if self.frame_timeout is not None and self._parser.buffered:
            frame_deadline = self._frame_began + self.frame_timeout
            if deadline is None or frame_deadline < deadline:
                return frame_deadline
        return deadline

    def tick(self, now: float) -> HeartbeatTimeout | ConnectTimeout | FrameTimeout | None:
        """Do what is due at ``now``: send a heart-beat, or give up on a client.

        A client that sent no CONNECT within ``connect_timeout``, one silent past its
        heart-beat interval times the grace factor, and one whose frame has not ended
        ``frame_timeout`` after it began get an ERROR, and the returned event tells the
        caller to close.
        """
        state = self.state
        if state is _S.AWAITING_CONNECT or state is _S.CONNECTING:
            if self._connect_deadline is not None and now >= self._connect_deadline:
                self.send_error("connect timeout", "no CONNECT frame within the connect timeout")
                return ConnectTimeout(now - self._connect_deadline)
            return None
        if state is not _S.CONNECTED:
            return None
        buffered = self._parser.buffered
        if buffered and self.frame_timeout is not None:
            waited = now - self._frame_began
            if waited >= self.frame_timeout:
                self.send_error(
                    "frame timeout",
                    f"a frame begun {waited:.1f} s ago has not ended ({buffered} bytes of it "
                    f"received); frame_timeout is {self.frame_timeout:g} s",
                )
                return FrameTimeout(waited, buffered)
        if self.heartbeat.peer_dead(now):
            silent = now - self.heartbeat.last_received
            self.send_error(
                "heart-beat timeout",
                f"no data from the client for {silent:.1f} s; the negotiated interval is "
                f"{self.heartbeat.receive_interval:.1f} s",
            )
            return HeartbeatTimeout(silent)
        self._send_heartbeat_if_due(now)
        return None


def _writable_text(text: str, version: str | None) -> str:
    """``text`` with what ``version`` cannot write in a header value shown escaped."""
    if "\0" in text:
        text = text.replace("\0", "\\0")
    if version != "1.1" and version != "1.2":
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text


def fan_out(message: OutgoingMessage, targets: list[tuple[ServerConnection, str]]) -> list[int]:
    """Queue ``message`` for many auto-ack subscriptions at once: ``targets`` pairs each
    connection with a subscription id. Return the positions in ``targets`` whose output is
    now full (see :meth:`ServerConnection.send_message`).

    The same as a :meth:`~ServerConnection.send_message` per target, in one call for the
    whole fan-out: on a topic with a hundred subscribers a Python call per subscriber
    would cost as much as the framing itself.
    """
    full: list[int] = []
    version: str | None = None
    tail = b""
    tail_size = 0
    for index, (conn, subscription) in enumerate(targets):
        if conn.version != version:
            version = conn.version
            tail = message.tail(version)  # type: ignore[arg-type]
            tail_size = len(tail)
        head = conn._heads.get(subscription)
        if head is None:
            head = conn._message_head(subscription)
        out = conn._out
        if not out and conn.on_output is not None:
            conn.on_output()
        out.append(head)
        out.append(tail)
        size = conn._out_size + len(head) + tail_size
        conn._out_size = size
        if size >= conn._room:
            full.append(index)
    return full
