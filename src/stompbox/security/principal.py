"""Who a session is: a name something verified, and the roles that come with it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AuthenticationFailed", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified identity. ``via`` says what verified it (``users-file``, ``jwt``,
    ``tls-cert``, ``asgi``, ``app``, ``trusted-login``), for logs and audits."""

    name: str
    roles: frozenset[str] = frozenset()
    via: str = ""

    def __str__(self) -> str:
        return self.name


class AuthenticationFailed(Exception):
    """Credentials were presented and did not verify. The message is for the server's log
    only: the client is told ``authentication failed`` and nothing more."""
