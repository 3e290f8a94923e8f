"""Who may connect, from where and how often: one :class:`Gatekeeper` per registry."""

from __future__ import annotations

from stompbox.security.authn import SecurityPolicy
from stompbox.security.throttle import AddressCounter, FailureDelay, RateLimit

from .config import ServerConfig

__all__ = ["Gatekeeper", "address_of"]


def address_of(peer: str) -> str:
    """``ws:10.0.0.7:51234`` -> ``10.0.0.7``: the source address in a session's peer name
    (``[tls:|ws:|wss:]host:port``), what per-address limits count."""
    scheme, _, rest = peer.partition(":")
    if scheme in ("ws", "wss", "tls"):
        peer = rest
    host, _, port = peer.rpartition(":")
    return host if host and port.isdigit() else peer


class Gatekeeper:
    """The security policy of a server, and the per-address bounds in front of it:
    connections per address, CONNECT attempts per minute, and a growing delay after
    failed logins."""

    def __init__(self, config: ServerConfig) -> None:
        broker = config.broker
        self.policy = SecurityPolicy(config.security, broker.separator, broker.prefixes)
        self.connections = AddressCounter(config.max_connections_per_address)
        self.attempts = RateLimit(config.connect_attempts_per_minute)
        self.failures = FailureDelay()
