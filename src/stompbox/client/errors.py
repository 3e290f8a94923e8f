"""Exceptions of the asyncio client.

StompError
├── ConnectFailed        the broker could not be reached, or refused CONNECT
├── BrokerErrorFrame     the broker sent an ERROR frame (headers and body attached)
└── ConnectionLost       the connection died (closed, reset, or silent past heart-beats)
"""

from __future__ import annotations

from stompbox.protocol import Frame

__all__ = ["BrokerErrorFrame", "ConnectFailed", "ConnectionLost", "StompError"]


class StompError(Exception):
    """Base class of the client's errors."""


class ConnectFailed(StompError):
    """The broker could not be reached or refused the CONNECT."""

    def __init__(self, message: str, frame: Frame | None = None) -> None:
        self.frame = frame
        super().__init__(message)


class BrokerErrorFrame(StompError):
    """The broker answered with an ERROR frame; STOMP closes the connection after one."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.headers = dict(reversed(frame.headers))  # first occurrence wins
        self.message = frame.get("message", "") or ""
        self.body = frame.body
        detail = frame.body.decode("utf-8", "replace").strip()
        super().__init__(f"{self.message}: {detail}" if detail else self.message)


class ConnectionLost(StompError):
    """The connection ended while something was waiting on it."""
