"""Who may connect, from where and how often: one :class:`Gatekeeper` per registry."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol

from stompbox.security.authn import Credentials, SecurityPolicy, principal_of
from stompbox.security.principal import AuthenticationFailed, Principal
from stompbox.security.throttle import AddressCounter, FailureDelay, RateLimit

from .config import ServerConfig

__all__ = ["AccessDenied", "DestinationGuard", "Gatekeeper", "Refusal", "address_of"]

log = logging.getLogger("stompbox.server")

_HASHING_THREADS = 2


class AccessDenied(Exception):
    """Raised by an application's authenticator to refuse a CONNECT; unlike a failed
    verification, its message goes in the ERROR (the application chose the words)."""


class Refusal(NamedTuple):
    """A CONNECT refused: the ERROR's ``message`` and body."""

    message: str
    detail: str


class DestinationGuard(Protocol):
    """A rule of the server's own on some destinations (the overview feed's topic),
    asked before the access rules for every SUBSCRIBE."""

    def authorize(self, identity: Principal | None, command: str, destination: str) -> None:
        """Raise :class:`~stompbox.broker.BrokerError` to refuse the frame."""


def address_of(peer: str) -> str:
    """``ws:10.0.0.7:51234`` -> ``10.0.0.7``: the source address in a session's peer name
    (``[tls:|ws:|wss:|sockjs:]host:port``), what per-address limits count."""
    scheme, _, rest = peer.partition(":")
    if scheme in ("ws", "wss", "tls", "sockjs"):
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
        self.guard: DestinationGuard | None = None
        """The server's own destination rule, if any (set by the management listener)."""
        self._hashing = ThreadPoolExecutor(_HASHING_THREADS, "stompbox-passwords")
        """Where passwords are checked: an argon2 check holds 64 MiB while it runs, so
        that clients connecting at once make the server hold at most this many of them
        (the rest wait their turn)."""

    async def authenticate(
        self,
        credentials: Credentials,
        peer: str,
        hook: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, Principal | None] | Refusal:
        """Check a CONNECT's credentials after the delay that failures from its address
        have earned: the principal (as ``hook``, an application's, returned it from what
        the policy verified) and its verified identity, or a :class:`Refusal`, which comes
        only after this failure's own delay. Password hashing runs in a thread."""
        policy = self.policy
        address = credentials.address
        refusal: Refusal
        try:
            wait = self.failures.wait(address, time.monotonic())
            if wait:
                await asyncio.sleep(wait)
            if policy.blocking and credentials.login:
                loop = asyncio.get_running_loop()
                verified = await loop.run_in_executor(
                    self._hashing, policy.authenticate, credentials
                )
            else:
                verified = policy.authenticate(credentials)
            principal: Any = verified
            if hook is not None:
                principal = hook(verified)
                if inspect.isawaitable(principal):
                    principal = await principal
            identity = principal_of(principal, "app")
            if identity is None and not policy.anonymous:
                raise AuthenticationFailed("no credentials, and anonymous clients are refused")
            return principal, identity
        except AuthenticationFailed as exc:
            log.warning("%s: authentication failed: %s", peer, exc)
            refusal = Refusal("authentication failed", "")
        except AccessDenied as exc:
            log.warning("%s: access denied: %s", peer, exc)
            refusal = Refusal("access denied", str(exc))
        except Exception as exc:  # a bug in a verifier or an application's hook
            log.exception("%s: internal error checking a CONNECT", peer)
            refusal = Refusal("internal error", type(exc).__name__)
        await asyncio.sleep(self.failures.failed(address, time.monotonic()))
        return refusal
