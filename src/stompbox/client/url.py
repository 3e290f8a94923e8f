"""Broker URLs: ``stomp://``, ``stomps://`` (TLS), ``ws://`` and ``wss://``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["BrokerURL", "parse_url"]

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
