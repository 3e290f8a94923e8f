"""One client connection on the server: bytes to the protocol, frames to the broker.

Kept thin on purpose: protocol rules live in :mod:`stompbox.protocol`, state in
:mod:`stompbox.broker`. What is left is glue, timers and the order of writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from stompbox.broker import Broker, BrokerError, Message, Session
from stompbox.protocol import (
    ConnectionClosed,
    ConnectTimeout,
    Frame,
    FrameTimeout,
    HeartbeatTimeout,
    RemoteProtocolError,
    ServerConnection,
)
from stompbox.security.acl import AccessControl
from stompbox.security.authn import Credentials
from stompbox.security.principal import Principal

from .config import ServerConfig
from .gate import AccessDenied, DestinationGuard, Gatekeeper, Refusal, address_of
from .output import OutputScheduler
from .traffic import Traffic

__all__ = ["AccessDenied", "Application", "Output", "ServerSession", "Transport"]

log = logging.getLogger("stompbox.server")

Output = tuple[list[bytes], list[Message]]
"""A session's output taken for writing: its bytes, and the auto-acked queue messages
they carry (consumed once written)."""


class Transport(Protocol):
    """The part of :class:`asyncio.Transport` a session uses; WebSocket adapts to it.

    A transport calls the session's ``pause_writing`` when its buffer passes the
    ``outbound_buffer`` limit and ``resume_writing`` when it drained, as asyncio does.
    """

    def write(self, data: bytes) -> None: ...
    def writelines(self, data: list[bytes]) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def close(self) -> None: ...
    def can_write_eof(self) -> bool: ...
    def write_eof(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool: ...


class Application(Protocol):
    """What an application layer (``stompbox.app``) plugs into each session."""

    def authenticate(
        self, session: ServerSession, frame: Frame, credentials: Credentials, verified: Any
    ) -> Any:
        """Return the session's principal (or None), or an awaitable of it, given what the
        server's own policy ``verified`` (None if nothing); raise :class:`AccessDenied` or
        :class:`~stompbox.security.AuthenticationFailed` to refuse."""

    def connected(self, session: ServerSession) -> None: ...

    def inbound(self, session: ServerSession, frame: Frame) -> Frame | None:
        """See a client frame first: return it (maybe changed) for the broker, or None
        when the application took it over (and owes its receipt)."""

    def disconnected(self, session: ServerSession) -> None: ...

    def outgoing(self, session: ServerSession, chunks: list[bytes]) -> list[bytes]:
        """See bytes on their way to the client (outbound interceptors)."""

    def readiness(self) -> str | None:
        """None when ready to serve, or why not (a relayed broker away): ``/readyz``."""

    async def start(self) -> None:
        """Start what runs beside the sessions (a relay's connection); counted."""

    async def stop(self) -> None:
        """Undo one :meth:`start`."""


_OUTPUT_FULL = 1  # reasons to stop reading a client, as bits
_QUEUE_FULL = 2
_MEMORY = 4
_AUTHENTICATING = 8
_NOT_ITS_FAULT = _QUEUE_FULL | _MEMORY  # not reading: its silence proves nothing
_LINGER = 2.0
"""Seconds a closed connection is still read (and what comes dropped) for the client to
close its end, so that its unread input does not make the kernel reset the connection."""
_QUIET = 0.1
"""A lingering connection closes once the client has sent nothing for this long."""


class ServerSession:
    """Drives one :class:`ServerConnection` and hands its frames to the broker.

    Every byte for the client goes through the connection's output (deliveries,
    receipts, errors, heart-beats, an application's frames), which the
    :class:`OutputScheduler` writes once per event-loop turn. While the transport's buffer
    is full the broker hands this session nothing more and the session stops reading the
    client: a client that does not read cannot make the server hold more than about one
    ``outbound_buffer`` for it.

    What the session buffers (a partial frame, output the socket has not taken) is
    charged to the broker's memory budget. While the broker is over its budget, a read
    that made it hold more (a SEND, a growing partial frame) pauses reading this client;
    past ``memory_grace`` it gets an ERROR naming the budget.
    """

    __slots__ = (
        "_authenticating",
        "_heard",
        "_input_charge",
        "_lingering",
        "_lost",
        "_memory_timer",
        "_output",
        "_output_charge",
        "_read_pauses",
        "_timer",
        "_timer_at",
        "_writing_paused",
        "address",
        "app",
        "attributes",
        "broker",
        "bytes_in",
        "bytes_out",
        "client_cert",
        "config",
        "conn",
        "gate",
        "handshake",
        "identity",
        "loop",
        "opened_at",
        "peer",
        "principal",
        "session",
        "traffic",
        "transport",
    )

    def __init__(
        self,
        broker: Broker,
        config: ServerConfig,
        transport: Transport,
        peer: str,
        *,
        output: OutputScheduler,
        gate: Gatekeeper,
        app: Application | None = None,
        handshake: Mapping[str, Any] | None = None,
        on_lost: Callable[[ServerSession], None] | None = None,
        client_cert: Mapping[str, Any] | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self.app = app
        self.traffic = traffic if traffic is not None else Traffic()
        """Where this session counts its frames for ``/metrics``: the registry's."""
        self.gate = gate
        """Authentication, access rules and per-address bounds: the registry's, shared by
        every session (it holds the users file, keys and the password threads)."""
        self.handshake = handshake
        """The ASGI scope of a WebSocket handshake (headers, cookies, query), if any."""
        self.client_cert = client_cert
        """The client's TLS certificate as :meth:`ssl.SSLSocket.getpeercert` gives it, when
        it presented one that verified against ``tls_ca``."""
        self.principal: Any = None
        """Who the session is, as its authenticator gave it (an application's may return
        any object); None while anonymous."""
        self.identity: Principal | None = None
        """The verified name and roles of ``principal``: what access rules, ``user-id``
        and user destinations go by."""
        self.attributes: dict[str, Any] = {}
        self.opened_at = time.time()
        """When the connection was accepted (seconds since the epoch), for the admin API."""
        self.bytes_in = 0
        """Bytes read from the client, STOMP frames and heart-beats."""
        self.bytes_out = 0
        """Bytes handed to the transport for the client."""
        self.broker = broker
        self.config = config
        self.transport = transport
        self.peer = peer
        self.address = address_of(peer)
        self.loop = asyncio.get_running_loop()
        self.session: Session | None = None
        self.conn = ServerConnection(
            now=self.loop.time(),
            heartbeat=config.heartbeat,
            heartbeat_grace=config.heartbeat_grace,
            heartbeat_floor=config.heartbeat_floor,
            heartbeat_required=config.heartbeat_required,
            limits=config.limits,
            connect_limits=config.connect_limits,
            connect_timeout=config.connect_timeout,
            frame_timeout=config.frame_timeout,
            output_limit=config.outbound_buffer,
        )
        self.conn.on_output = self._output_waiting
        self.conn.on_error = self.traffic.error_sent
        self._output = output
        self._lost = on_lost
        self._writing_paused = False
        self._read_pauses = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._input_charge = 0
        self._output_charge = 0
        self._memory_timer: asyncio.TimerHandle | None = None
        self._heard = False
        """Whether the client sent anything since the last look, once closed."""
        self._lingering = False
        """Half-closed: nothing more may be written."""
        self._authenticating: asyncio.Task[None] | None = None
        """Checking a CONNECT: nothing behind it is read or handled until it is answered."""
        self._schedule()

    # -- input -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn.closed:
            self._heard = True  # lingering: dropped
            return
        self.bytes_in += len(data)
        memory = self.broker.memory
        held = memory.used
        conn.receive_data(data, self.loop.time())
        self._process()
        partial = conn.buffered_input
        if partial != self._input_charge:
            memory.adjust(self._input_charge, partial)
            self._input_charge = partial
        if memory.over and memory.used > held and not conn.closed:
            self.block_for_memory()  # this read made the broker hold more

    def eof_received(self) -> None:
        self.conn.receive_data(b"")
        self._process()

    def _process(self) -> None:
        if self._authenticating is not None:
            return  # what came behind the CONNECT waits for its answer
        conn = self.conn
        traffic = self.traffic
        frames_in = traffic.frames_in
        frame: Frame | None = None
        app = self.app
        acl = self.gate.policy.acl
        guard = self.gate.guard
        try:
            events, handlers = traffic.reading(conn.events(), self.broker.handlers)
            for event in events:
                if type(event) is not Frame:
                    if isinstance(event, ConnectionClosed):
                        self.transport.close()
                    continue
                frame = event
                command = frame.command
                frames_in[command] += 1
                if (acl is not None and (command == "SEND" or command == "SUBSCRIBE")) or (
                    guard is not None and command == "SUBSCRIBE"
                ):
                    self._authorize(acl, guard, frame, command)
                if app is not None and self.session is not None:
                    routed = app.inbound(self, frame)
                    if routed is None:
                        continue
                    frame = routed
                handler = handlers.get(command)
                if handler is not None:
                    handler(self.session, frame)  # type: ignore[arg-type]
                    if frame.get("receipt") is not None:
                        conn.send_receipt(frame)
                elif command == "CONNECT" or command == "STOMP":
                    if not self._connect(frame):
                        break  # answered once checked; what follows waits in the connection
                elif command == "DISCONNECT":
                    conn.send_receipt(frame)
                    self._close()
                    break
        except BrokerError as exc:
            self.error(exc.message, exc.detail, frame=frame)
        except RemoteProtocolError as exc:  # the connection has queued its ERROR already
            log.warning("%s: protocol error: %s", self.peer, exc)
            self._close()
        except Exception as exc:  # a bug here or in an application hook: this client only
            log.exception("%s: internal error", self.peer)
            self.error("internal error", f"{type(exc).__name__}: {exc}", frame=frame)
        self._schedule()

    def _authorize(
        self, acl: AccessControl | None, guard: DestinationGuard | None, frame: Frame, command: str
    ) -> None:
        """Refuse a SEND or SUBSCRIBE the access rules, or a SUBSCRIBE the server's own
        rule, do not allow (the broker refuses a SEND to the server's own destinations)."""
        destination = frame.get("destination") or ""
        if guard is not None and command == "SUBSCRIBE":
            guard.authorize(self.identity, command, destination)
        action = "send" if command == "SEND" else "subscribe"
        if acl is not None and not acl.allows(self.identity, action, destination):
            who = f"user {self.identity.name!r}" if self.identity else "an anonymous client"
            raise BrokerError(
                "access denied", f"{command} to {destination} is not allowed for {who}"
            )

    def _connect(self, frame: Frame) -> bool:
        """Check a CONNECT: True if it was answered now, False if its check goes on in a
        task (reading stops until then)."""
        config = self.config
        host = frame.get("host")
        if config.virtual_hosts is not None and host not in config.virtual_hosts:
            self.error("unknown virtual host", f"host {host!r} is not served here", frame=frame)
            return True
        gate = self.gate
        if not gate.attempts.take(self.address, self.loop.time()):
            self.error(
                f"connect_attempts_per_minute limit of {gate.attempts.per_minute} exceeded",
                f"too many CONNECT frames from {self.address}; try again later",
                frame=frame,
            )
            return True
        self._pause_reading(_AUTHENTICATING)
        self._authenticating = self.loop.create_task(self._authenticate(frame))
        return False

    async def _authenticate(self, frame: Frame) -> None:
        """Have the gatekeeper check the CONNECT, then answer it: CONNECTED, or an ERROR
        that tells an attacker nothing (the reason went to the log, with the address)."""
        credentials = Credentials(
            frame.get("login"),
            frame.get("passcode"),
            dict(reversed(frame.headers)),
            self.handshake,
            self.client_cert,
            self.address,
        )
        app = self.app
        hook = None
        if app is not None:

            def hook(verified: Any) -> Any:
                return app.authenticate(self, frame, credentials, verified)

        outcome = await self.gate.authenticate(credentials, self.peer, hook)
        self._authenticating = None
        if self.conn.closed:
            return  # timed out or lost meanwhile
        if isinstance(outcome, Refusal):
            self.error(outcome.message, outcome.detail, frame=frame)
        else:
            self._accept(*outcome, client_id=frame.get("client-id"))
            self._resume_reading(_AUTHENTICATING)
            self._process()  # what came behind the CONNECT

    def _accept(
        self, principal: Any, identity: Principal | None, client_id: str | None = None
    ) -> None:
        conn = self.conn
        self.principal = principal
        self.identity = identity
        name = identity.name if identity is not None else None
        self.session = self.broker.open_session(
            self, conn.version or "1.0", name, client_id=client_id
        )
        conn.accept(self.loop.time(), session=self.session.id, server=self.config.server_name)
        self.traffic.connected += 1
        if self.app is not None:
            self.app.connected(self)
        who = f"user {name!r} ({identity.via})" if identity is not None else "anonymous"
        log.info(
            "%s: connected as %s, %s (STOMP %s)", self.peer, self.session.id, who, conn.version
        )

    # -- output ------------------------------------------------------------------------

    @property
    def connection(self) -> ServerConnection:
        """SessionSink: where the broker's deliveries go, framed by the protocol."""
        return self.conn

    def send_receipt(self, frame: Frame) -> None:
        """Send the RECEIPT ``frame`` asked for, if any (an application finished it)."""
        if frame.get("receipt") is not None and not self.conn.closed:
            self.conn.send_receipt(frame)

    def write_frame(self, frame: Frame) -> None:
        """Send one frame to this client, in order with its deliveries."""
        if not self.conn.closed and self.session is not None and not self.session.closed:
            self.conn.send(frame)
            command = frame.command
            if command == "MESSAGE":
                self.traffic.app_messages += 1
            elif command == "RECEIPT":  # a relayed broker's
                self.traffic.app_receipts += 1

    def end(self, frame: Frame) -> None:
        """Answer a DISCONNECT the application finished (a relayed broker's receipt came
        back), then close after pending output."""
        if not self.conn.closed:
            self.conn.send_receipt(frame)
            self._close()

    def backlogged(self) -> bool:
        """Whether this client is a full outbound buffer behind: a source that is not
        the broker (a relay) should wait before handing it more."""
        queued = self.conn.buffered + self.transport.get_write_buffer_size()
        return self._writing_paused or queued > self.config.outbound_buffer

    def error(self, message: str, detail: str = "", *, frame: Frame | None = None) -> None:
        """Send an ERROR (echoing ``frame``'s receipt) and close."""
        if self.conn.closed:
            return
        log.warning("%s: %s%s", self.peer, message, f": {detail}" if detail else "")
        self.conn.send_error(message, detail, frame=frame)
        self._close()

    def _output_waiting(self) -> None:
        self._output.add(self)

    def flush(self) -> None:
        """Hand everything the connection queued to the transport, in one call."""
        output = self.take_output()
        if output is not None:
            self.write_output(output)

    def take_output(self) -> Output | None:
        """Take what the connection has queued, and the auto-acked messages it carries,
        for :meth:`write_output` (which the scheduler calls once the store has committed
        what the output depends on); None if nothing is queued."""
        chunks = self.conn.take_output(self.loop.time())
        if not chunks:
            return None
        settling: list[Message] = []
        session = self.session
        if session is not None and session.settling:
            settling, session.settling = session.settling, []
        size = sum(map(len, chunks))
        self.bytes_out += size
        limit = self.conn.output_limit
        if limit is not None:  # until written, the bytes count against the outbound buffer
            self.conn.output_limit = max(limit - size, 0)
        return chunks, settling

    def write_output(self, output: Output) -> None:
        """Write output taken by :meth:`take_output`, and settle what it carried."""
        chunks, settling = output
        transport = self.transport
        session = self.session
        if transport.is_closing() or self._lingering:
            # lost, or handed to a closed connection by a fan-out under way as it closed:
            # its auto-acked messages go back to their queues
            if session is not None:
                self.broker.output_lost(session, settling)
            return
        if self.app is not None:
            chunks = self.app.outgoing(self, chunks)
        transport.writelines(chunks)
        # what the socket still buffers counts against the outbound buffer too, so that
        # a client is never more than one outbound_buffer behind what it was handed
        socket_buffered = self._charge_socket_buffer()
        self.conn.output_limit = max(
            self.config.outbound_buffer - socket_buffered - self.conn.buffered, 0
        )
        if session is not None:
            # a connection on its way out (an ERROR, a DISCONNECT) is handed nothing more:
            # a message handed to it now would only come back as a redelivery
            writable = not self._writing_paused and not self.conn.closed
            self.broker.output_written(session, writable, settling)

    def pause_writing(self) -> None:
        """The transport's buffer is full: hand this client nothing more, read nothing."""
        self._writing_paused = True
        if self.session is not None:
            self.broker.set_writable(self.session, False)
        self._pause_reading(_OUTPUT_FULL)

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._charge_socket_buffer()
        self._resume_reading(_OUTPUT_FULL)
        session = self.session
        if session is not None and not session.closed and self.conn.buffered == 0:
            self.broker.set_writable(session, True)

    # SessionSink, called by the broker

    def pause_reading(self) -> None:
        self._pause_reading(_QUEUE_FULL)

    def resume_reading(self) -> None:
        self._resume_reading(_QUEUE_FULL)

    def fail(self, message: str, detail: str) -> None:
        self.error(message, detail)

    # the memory budget

    def _charge_socket_buffer(self) -> int:
        """Charge what the socket's buffer holds now to the memory budget; return it."""
        socket_buffered = self.transport.get_write_buffer_size()
        if socket_buffered != self._output_charge:
            self.broker.memory.adjust(self._output_charge, socket_buffered)
            self._output_charge = socket_buffered
        return socket_buffered

    def block_for_memory(self) -> None:
        """Stop reading this client while the broker is over its memory budget; it gets
        an ERROR if that lasts ``memory_grace`` seconds."""
        if self._read_pauses & _MEMORY or self.conn.closed:
            return
        self._pause_reading(_MEMORY)
        grace = self.broker.config.memory_grace
        self._memory_timer = self.loop.call_later(grace, self._memory_grace_over)

    def unblock_for_memory(self) -> None:
        self._stop_memory_timer()
        self._resume_reading(_MEMORY)

    def _stop_memory_timer(self) -> None:
        if self._memory_timer is not None:
            self._memory_timer.cancel()
            self._memory_timer = None

    def _memory_grace_over(self) -> None:
        self._memory_timer = None
        memory = self.broker.memory
        self.error(
            "memory budget exceeded",
            f"the broker holds more than its memory budget ({memory.describe()}) and has "
            f"not read this connection for memory_grace={self.broker.config.memory_grace:g} "
            "s; what it sent before was accepted, nothing after",
        )

    def _pause_reading(self, reason: int) -> None:
        if not self._read_pauses and not self.transport.is_closing():
            self.transport.pause_reading()
        self._read_pauses |= reason

    def _resume_reading(self, reason: int) -> None:
        if not self._read_pauses & reason:
            return
        self._read_pauses &= ~reason
        if reason & _NOT_ITS_FAULT:
            # the server was not reading: the client's clocks (an unfinished frame,
            # silence) start again now, not at the timer's last look while paused, which
            # could leave a frame that was half in when reading stopped no time to end
            self.conn.not_reading(self.loop.time())
        if not self._read_pauses and not self.transport.is_closing():
            self.transport.resume_reading()

    # -- closing -----------------------------------------------------------------------

    def _close(self) -> None:
        """Close after the pending output, once what it promises is on disk (a RECEIPT
        for a persistent SEND): the output goes without the scheduler's commit here."""
        if self._output.commit():
            self.flush()
        if self.session is not None:
            self.broker.close_session(self.session)
        self._linger()

    def _linger(self) -> None:
        """Half-close, then read and drop what the client still sends until it closes
        too or goes quiet, for at most ``_LINGER`` seconds. Closing a socket with unread
        input makes the kernel reset the connection, which destroys an ERROR the client
        has not read yet (a client parked on half a frame, refused for it, would never
        learn why)."""
        transport = self.transport
        if transport.is_closing():
            return
        self._stop_memory_timer()
        if self._read_pauses:  # the client's answer to the close must be read
            self._read_pauses = 0
            transport.resume_reading()
        if not transport.can_write_eof():  # a WebSocket: its own closing handshake
            transport.close()
            return
        transport.write_eof()
        self._lingering = True
        self._heard = False
        self.loop.call_later(_QUIET, self._end_linger, self.loop.time() + _LINGER)

    def _end_linger(self, deadline: float) -> None:
        if self._heard and self.loop.time() < deadline:
            self._heard = False
            self.loop.call_later(_QUIET, self._end_linger, deadline)
        else:
            self.transport.close()

    def connection_lost(self) -> None:
        if self._authenticating is not None:
            self._authenticating.cancel()
            self._authenticating = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stop_memory_timer()
        self.broker.memory.release(self._input_charge + self._output_charge)
        self._input_charge = self._output_charge = 0
        if self._lost is not None:
            self._lost(self)
            self._lost = None
        if self.session is not None:
            self.broker.close_session(self.session)
            if self.app is not None:
                self.app.disconnected(self)
            log.info("%s: closed (%s)", self.peer, self.session.id)
        else:
            log.info("%s: closed before connecting", self.peer)

    # -- time --------------------------------------------------------------------------

    def _schedule(self) -> None:
        deadline = self.conn.next_deadline()
        if deadline is None or self.conn.closed:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return  # the running timer fires first and reschedules
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        conn = self.conn
        if conn.closed:
            return
        now = self.loop.time()
        if self._read_pauses & _NOT_ITS_FAULT:
            conn.not_reading(now)
        result = conn.tick(now)
        if isinstance(result, (HeartbeatTimeout, ConnectTimeout, FrameTimeout)):
            log.warning("%s: closed: %s", self.peer, self._timeout_reason(result))
            self._close()
            return
        self._schedule()

    def _timeout_reason(self, result: HeartbeatTimeout | ConnectTimeout | FrameTimeout) -> str:
        """What an operator needs to know of a timeout: how long, against what."""
        if isinstance(result, HeartbeatTimeout):
            beat = self.conn.heartbeat
            return (
                f"no heart-beat or frame for {result.silent_for:.1f} s; the client was to "
                f"send one every {beat.receive_interval * 1000:.0f} ms (heart-beat "
                f"{beat.send_interval * 1000:.0f},{beat.receive_interval * 1000:.0f} from "
                f"the server's side; dead after {beat.grace:g} x the interval)"
            )
        if isinstance(result, ConnectTimeout):
            return (
                f"no CONNECT within {result.waited:.1f} s "
                f"(connect_timeout {self.config.connect_timeout:g} s)"
            )
        return (
            f"a frame begun {result.waited:.1f} s ago did not end ({result.buffered} bytes "
            f"of it; frame_timeout {self.config.frame_timeout:g} s)"
        )

    def shutdown(self) -> None:
        """Tell the client the server is going away, then close after pending output."""
        if not self.conn.closed:
            self.conn.send_error("server shutting down", "the broker is stopping")
        self._close()
