"""Events a connection reports besides frames, and the connection states."""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = [
    "ConnectTimeout",
    "ConnectionClosed",
    "ConnectionState",
    "FrameTimeout",
    "HeartbeatTimeout",
]


class ConnectionState(enum.Enum):
    """Where a STOMP connection stands (STOMP 1.2 "Connecting", "DISCONNECT", "ERROR")."""

    AWAITING_CONNECT = "awaiting-connect"
    """Server: no CONNECT yet. Client: CONNECT not yet sent."""
    CONNECTING = "connecting"
    """Server: CONNECT received, not yet answered. Client: CONNECT sent, no CONNECTED yet."""
    CONNECTED = "connected"
    """CONNECTED sent or received: every other frame may flow."""
    DISCONNECTING = "disconnecting"
    """DISCONNECT sent or received: only its RECEIPT may follow."""
    CLOSED = "closed"
    """After an ERROR, a completed DISCONNECT, end of stream or a heart-beat timeout."""


class HeartbeatTimeout(NamedTuple):
    """The peer has been silent longer than the negotiated interval times the grace factor."""

    silent_for: float


class ConnectTimeout(NamedTuple):
    """The client sent no CONNECT within the server's connect timeout."""

    waited: float


class FrameTimeout(NamedTuple):
    """A frame the client began did not end within the server's frame timeout."""

    waited: float
    buffered: int
    """Bytes of the unfinished frame."""


class ConnectionClosed(NamedTuple):
    """The peer closed its end of the stream (``receive_data(b"")``)."""

    clean: bool
    """True when the stream ended between frames after a DISCONNECT or ERROR."""
