"""What the network-facing layers share, whatever their role: broker URLs (``stomp://``,
``stomps://``, ``ws://``, ``wss://``), the WebSocket subprotocol names and socket options.

Neutral ground below the client, the server and the relay, so that none of them reaches
into another for these.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "DEFAULT_PORTS",
    "SUBPROTOCOLS",
    "BrokerURL",
    "choose_subprotocol",
    "parse_url",
    "set_keepalive",
]

SUBPROTOCOLS = ("v12.stomp", "v11.stomp", "v10.stomp")
"""STOMP's WebSocket subprotocols, the highest version first."""

DEFAULT_PORTS = {"stomp": 61613, "stomps": 61614, "ws": 15674, "wss": 15673}


@dataclass(frozen=True, slots=True)
class BrokerURL:
    scheme: str
    host: str
    port: int
    login: str | None
    passcode: str | None
    vhost: str
    """Sent as CONNECT's ``host`` header; RabbitMQ reads it as the virtual host."""
    path: str
    """The WebSocket path with its query string (``ws``/``wss`` only): a token there
    reaches the server's handshake."""

    @property
    def tls(self) -> bool:
        return self.scheme in ("stomps", "wss")

    @property
    def websocket(self) -> bool:
        return self.scheme in ("ws", "wss")


def parse_url(url: str) -> BrokerURL:
    """``stomp://guest:guest@localhost:61613/vhost`` -> its parts.

    For TCP the path names the virtual host (``/`` when absent, ``%2F`` for ``/``); for
    WebSocket the path is the endpoint's and ``?vhost=`` names the virtual host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"unsupported URL scheme {scheme!r} in {url!r}: use stomp, stomps, ws or wss"
        )
    if not parts.hostname:
        raise ValueError(f"no host in broker URL {url!r}")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"invalid port in broker URL {url!r}") from None
    query = parse_qs(parts.query)
    if scheme in ("ws", "wss"):
        path = (parts.path or "/ws") + (f"?{parts.query}" if parts.query else "")
        vhost = query.get("vhost", ["/"])[0]
    else:
        path = ""
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return BrokerURL(
        scheme,
        parts.hostname,
        port,
        unquote(parts.username) if parts.username is not None else None,
        unquote(parts.password) if parts.password is not None else None,
        vhost,
        path,
    )


def choose_subprotocol(offered: list[str] | tuple[str, ...]) -> str | None:
    """The highest STOMP version the client offers, or None (clients may offer none)."""
    for protocol in SUBPROTOCOLS:
        if protocol in offered:
            return protocol
    return None


def set_keepalive(sock: socket.socket, idle: int) -> None:
    """TCP keep-alive after ``idle`` seconds of silence (then 5 probes 10 s apart), so that
    dead peers of connections without heart-beats are found; and no Nagle delay."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # pragma: no cover - platform without these options
        pass


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` reaches this machine only (``127.0.0.1``, ``::1``,
    ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
