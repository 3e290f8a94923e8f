"""The sans-IO STOMP protocol core: frames, parser, serializer, connection state machines.

Nothing here touches a socket or a clock. The TCP server, the WebSocket endpoint and the
client all drive the same :class:`ServerConnection` and :class:`ClientConnection`.
"""

from .client import ClientConnection, ClientEvent
from .connection import Connection
from .errors import LimitExceeded, LocalProtocolError, ProtocolError, RemoteProtocolError
from .escaping import escape, unescape
from .events import (
    ConnectionClosed,
    ConnectionState,
    ConnectTimeout,
    FrameTimeout,
    HeartbeatTimeout,
)
from .frames import CLIENT_COMMANDS, SERVER_COMMANDS, SUPPORTED_VERSIONS, Frame, Headers, Version
from .heartbeat import Heartbeat, negotiate_heartbeat, parse_heartbeat
from .message import OutgoingMessage, message_head
from .parser import DEFAULT_LIMITS, FrameParser, Limits
from .rules import client_frame_problem, negotiate_version, server_frame_problem
from .serializer import serialize
from .server import CONNECT_LIMITS, ServerConnection, ServerEvent, fan_out

__all__ = [
    "CLIENT_COMMANDS",
    "CONNECT_LIMITS",
    "DEFAULT_LIMITS",
    "SERVER_COMMANDS",
    "SUPPORTED_VERSIONS",
    "ClientConnection",
    "ClientEvent",
    "ConnectTimeout",
    "Connection",
    "ConnectionClosed",
    "ConnectionState",
    "Frame",
    "FrameParser",
    "FrameTimeout",
    "Headers",
    "Heartbeat",
    "HeartbeatTimeout",
    "LimitExceeded",
    "Limits",
    "LocalProtocolError",
    "OutgoingMessage",
    "ProtocolError",
    "RemoteProtocolError",
    "ServerConnection",
    "ServerEvent",
    "Version",
    "client_frame_problem",
    "escape",
    "fan_out",
    "message_head",
    "negotiate_heartbeat",
    "negotiate_version",
    "parse_heartbeat",
    "serialize",
    "server_frame_problem",
    "unescape",
]
