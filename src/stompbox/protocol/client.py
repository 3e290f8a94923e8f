"""The client side of a STOMP connection, as a sans-IO state machine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .connection import Connection
from .errors import LocalProtocolError, RemoteProtocolError
from .events import ConnectionClosed, ConnectionState, HeartbeatTimeout
from .frames import SUPPORTED_VERSIONS, Frame
from .heartbeat import format_heartbeat, negotiate_heartbeat, parse_heartbeat
from .parser import DEFAULT_LIMITS, Limits
from .rules import client_frame_problem, server_frame_problem

__all__ = ["ClientConnection", "ClientEvent"]

ClientEvent = Frame | HeartbeatTimeout | ConnectionClosed

_S = ConnectionState


class ClientConnection(Connection):
    """Frames what a client sends, checked against the negotiated version, and validates
    what the server answers.

    Start with :meth:`connect`; CONNECTED (or ERROR) comes out of :meth:`events`. Frames
    the version forbids raise :class:`LocalProtocolError` at :meth:`send`.
    """

    def __init__(
        self,
        *,
        versions: tuple[str, ...] = SUPPORTED_VERSIONS,
        heartbeat: tuple[int, int] = (0, 0),
        heartbeat_grace: float = 2.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(limits=limits, heartbeat_grace=heartbeat_grace)
        self.versions = versions
        self.heartbeat_offer = heartbeat
        self.server: str | None = None
        self.session: str | None = None

    def connect(
        self,
        host: str,
        *,
        login: str | None = None,
        passcode: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        command: str = "CONNECT",
    ) -> None:
        """Queue the CONNECT (or STOMP) frame that opens the session."""
        if self.state is not _S.AWAITING_CONNECT:
            raise LocalProtocolError("connect() may be called once, before anything else")
        out = [
            ("accept-version", ",".join(self.versions)),
            ("host", host),
            ("heart-beat", format_heartbeat(self.heartbeat_offer)),
        ]
        if login is not None:
            out.append(("login", login))
        if passcode is not None:
            out.append(("passcode", passcode))
        out.extend(headers)
        super().send(Frame(command, tuple(out)))
        self.state = _S.CONNECTING

    def send(self, frame: Frame) -> None:
        """Queue ``frame``; raise :class:`LocalProtocolError` if the protocol forbids it."""
        if self.state is not _S.CONNECTED:
            raise LocalProtocolError(f"cannot send {frame.command} while {self.state.value}")
        problem = client_frame_problem(frame, self.version)  # type: ignore[arg-type]
        if problem is not None:
            raise LocalProtocolError(problem)
        super().send(frame)
        if frame.command == "DISCONNECT":
            self.state = _S.DISCONNECTING

    def events(self) -> Iterator[ClientEvent]:
        """Yield server frames and other events; malformed input raises
        :class:`RemoteProtocolError` (after the valid frames before it)."""
        while self.state is not _S.CLOSED:
            frames = self._parser.frames()
            if not frames:
                break
            for frame in frames:
                self._receive(frame)
                yield frame
                if self.closed:
                    return
        if self._eof and not self.closed:
            clean = self.state is _S.DISCONNECTING and not self._parser.buffered
            self.state = _S.CLOSED
            yield ConnectionClosed(clean)

    def _receive(self, frame: Frame) -> None:
        command = frame.command
        if command == "ERROR":
            self.state = _S.CLOSED  # the server closes after an ERROR
            return
        if self.state is _S.CONNECTING:
            if command != "CONNECTED":
                raise RemoteProtocolError("expected CONNECTED", f"got {command!r}")
            version = frame.get("version", "1.0")
            if version not in self.versions:
                raise RemoteProtocolError(
                    "unsupported version", f"server chose {version!r}, not one we offered"
                )
            self.version = version
            self.server = frame.get("server")
            self.session = frame.get("session")
            send_ms, receive_ms = negotiate_heartbeat(
                self.heartbeat_offer, parse_heartbeat(frame.get("heart-beat"))
            )
            self.heartbeat.send_interval = send_ms / 1000.0
            self.heartbeat.receive_interval = receive_ms / 1000.0
            self.heartbeat.last_received = self.heartbeat.last_sent = max(
                self.heartbeat.last_received, self.heartbeat.last_sent
            )
            self._parser.version = version
            self.state = _S.CONNECTED
            return
        problem = server_frame_problem(frame, self.version or "1.0")
        if problem is not None:
            raise RemoteProtocolError(problem)
        if (
            command == "RECEIPT"
            and self.state is _S.DISCONNECTING
            and frame.get("receipt-id") is not None
        ):
            self.state = _S.CLOSED

    def tick(self, now: float) -> HeartbeatTimeout | None:
        """Send a heart-beat if due; report a server silent past the grace period."""
        if self.state is not _S.CONNECTED:
            return None
        if self.heartbeat.peer_dead(now):
            self.state = _S.CLOSED
            return HeartbeatTimeout(now - self.heartbeat.last_received)
        self._send_heartbeat_if_due(now)
        return None
