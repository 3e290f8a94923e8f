"""One client connection on the server: bytes to the protocol, frames to the broker.

Kept thin on purpose: protocol rules live in :mod:`stompbox.protocol`, state in
:mod:`stompbox.broker`. What is left is glue, timers and the order of writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from stompbox.broker import Broker, BrokerError, Session
from stompbox.protocol import (
    ConnectionClosed,
    ConnectTimeout,
    Frame,
    HeartbeatTimeout,
    RemoteProtocolError,
    ServerConnection,
    serialize,
)

from .config import ServerConfig

__all__ = ["AccessDenied", "Application", "ServerSession", "Transport", "flush_output"]

log = logging.getLogger("stompbox.server")


class Transport(Protocol):
    """The part of :class:`asyncio.Transport` a session uses; WebSocket adapts to it."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool: ...


class AccessDenied(Exception):
    """Raised by an authenticator to refuse a CONNECT; the message goes in the ERROR."""


class Application(Protocol):
    """What an application layer (``stompbox.app``) plugs into each session."""

    def authenticate(self, session: ServerSession, frame: Frame) -> Any:
        """Return the session's principal (or None); raise :class:`AccessDenied` to refuse."""

    def connected(self, session: ServerSession) -> None: ...

    def inbound(self, session: ServerSession, frame: Frame) -> Frame | None:
        """See a client frame first: return it (maybe changed) for the broker, or None
        when the application took it over (and owes its receipt)."""

    def disconnected(self, session: ServerSession) -> None: ...

    def outgoing(self, session: ServerSession, data: bytes) -> bytes:
        """See bytes on their way to the client (outbound interceptors)."""


def flush_output(broker: Broker) -> None:
    """Write every session's pending bytes to its transport, one write per session."""
    for session, data in broker.take_output():
        sink = session.sink
        assert isinstance(sink, ServerSession)
        sink.write(data)


class ServerSession:
    """Drives one :class:`ServerConnection` and hands its frames to the broker."""

    __slots__ = (
        "_timer",
        "_timer_at",
        "app",
        "attributes",
        "broker",
        "config",
        "conn",
        "handshake",
        "loop",
        "peer",
        "principal",
        "session",
        "transport",
    )

    def __init__(
        self,
        broker: Broker,
        config: ServerConfig,
        transport: Transport,
        peer: str,
        loop: asyncio.AbstractEventLoop,
        app: Application | None = None,
        handshake: Mapping[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.handshake = handshake
        """The ASGI scope of a WebSocket handshake (headers, cookies, query), if any."""
        self.principal: Any = None
        self.attributes: dict[str, Any] = {}
        self.broker = broker
        self.config = config
        self.transport = transport
        self.peer = peer
        self.loop = loop
        self.session: Session | None = None
        self.conn = ServerConnection(
            now=loop.time(),
            heartbeat=config.heartbeat,
            heartbeat_grace=config.heartbeat_grace,
            heartbeat_floor=config.heartbeat_floor,
            heartbeat_required=config.heartbeat_required,
            limits=config.limits,
            connect_limits=config.connect_limits,
            connect_timeout=config.connect_timeout,
        )
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._schedule()

    # -- input -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn.closed:
            return
        conn.receive_data(data, self.loop.time())
        self._process()

    def eof_received(self) -> None:
        self.conn.receive_data(b"")
        self._process()

    def _process(self) -> None:
        conn = self.conn
        broker = self.broker
        handlers = broker.handlers
        frame: Frame | None = None
        app = self.app
        try:
            for event in conn.events():
                if type(event) is not Frame:
                    if isinstance(event, ConnectionClosed):
                        self.transport.close()
                    continue
                frame = event
                command = frame.command
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
                        self._drain_protocol()
                elif command == "CONNECT" or command == "STOMP":
                    self._connect(frame)
                elif command == "DISCONNECT":
                    conn.send_receipt(frame)
                    self._drain_protocol()
                    self._close()
                    break
        except BrokerError as exc:
            self.error(exc.message, exc.detail, frame=frame)
        except RemoteProtocolError as exc:  # the connection has queued its ERROR already
            log.warning("%s: protocol error: %s", self.peer, exc)
            self._drain_protocol()
            self._close()
        except Exception as exc:  # a bug here or in an application hook: this client only
            log.exception("%s: internal error", self.peer)
            self.error("internal error", f"{type(exc).__name__}: {exc}", frame=frame)
        flush_output(broker)
        self._schedule()

    def _connect(self, frame: Frame) -> None:
        conn = self.conn
        config = self.config
        host = frame.get("host")
        if config.virtual_hosts is not None and host not in config.virtual_hosts:
            self.error("unknown virtual host", f"host {host!r} is not served here")
            return
        login = frame.get("login")
        if self.app is not None:
            try:
                self.principal = self.app.authenticate(self, frame)
            except AccessDenied as exc:
                self.error("access denied", str(exc))
                return
        elif config.users is not None:
            passcode = frame.get("passcode")
            if login is None or config.users.get(login) != passcode:
                self.error("access refused", f"login or passcode is wrong (login {login!r})")
                return
        self.session = self.broker.open_session(self, conn.version or "1.0", login)
        conn.accept(self.loop.time(), session=self.session.id, server=config.server_name)
        self._drain_protocol()
        if self.app is not None:
            self.app.connected(self)
        log.info("%s: connected as %s (STOMP %s)", self.peer, self.session.id, conn.version)

    def _drain_protocol(self) -> None:
        """Move the connection's own frames into the session's ordered output."""
        data = self.conn.data_to_send(self.loop.time())
        if not data:
            return
        if self.session is not None and not self.session.closed:
            self.broker.write(self.session, data)
        else:
            self.transport.write(data)

    # -- output ------------------------------------------------------------------------

    def send_receipt(self, frame: Frame) -> None:
        """Send the RECEIPT ``frame`` asked for, if any (an application finished it)."""
        if frame.get("receipt") is not None and not self.conn.closed:
            self.conn.send_receipt(frame)
            self._drain_protocol()
            flush_output(self.broker)

    def write_frame(self, frame: Frame) -> None:
        """Send one frame to this client, in order with its deliveries."""
        if self.session is None or self.session.closed:
            return
        self.broker.write(self.session, serialize(frame, self.conn.version))
        flush_output(self.broker)

    def error(self, message: str, detail: str = "", *, frame: Frame | None = None) -> None:
        """Send an ERROR (echoing ``frame``'s receipt) and close."""
        if self.conn.closed:
            return
        log.warning("%s: %s: %s", self.peer, message, detail)
        self.conn.send_error(message, detail, frame=frame)
        self._drain_protocol()
        self._close()

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.conn.heartbeat.last_sent = self.loop.time()
            if self.app is not None:
                data = self.app.outgoing(self, data)
            self.transport.write(data)

    def pause_writing(self) -> None:
        if self.session is not None:
            self.broker.set_writable(self.session, False)

    def resume_writing(self) -> None:
        if self.session is not None and not self.session.closed:
            self.broker.set_writable(self.session, True)
            flush_output(self.broker)

    # SessionSink, called by the broker

    def pause_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def fail(self, message: str, detail: str) -> None:
        self.error(message, detail)

    # -- closing -----------------------------------------------------------------------

    def _close(self) -> None:
        """Close after the pending output: asyncio writes buffered data before closing."""
        if self.session is not None:
            flush_output(self.broker)
            self.broker.close_session(self.session)
        self.transport.close()

    def connection_lost(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.session is not None:
            self.broker.close_session(self.session)
            flush_output(self.broker)
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
        result = conn.tick(self.loop.time())
        if isinstance(result, (HeartbeatTimeout, ConnectTimeout)):
            log.warning("%s: %s", self.peer, type(result).__name__)
            self._drain_protocol()
            self._close()
            return
        self._drain_protocol()
        flush_output(self.broker)
        self._schedule()

    def shutdown(self) -> None:
        """Tell the client the server is going away, then close after pending output."""
        if not self.conn.closed:
            self.conn.send_error("server shutting down", "the broker is stopping")
            self._drain_protocol()
        self._close()
