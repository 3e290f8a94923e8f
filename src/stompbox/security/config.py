"""What an operator can configure about who may connect and what they may do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .acl import AccessRule

__all__ = ["SecurityConfig"]


@dataclass(slots=True)
class SecurityConfig:
    """The ``[security]`` section (with ``[users]`` and ``[[acl]]``); docs/security.md.

    With nothing set, clients connect anonymously and may use every destination: the
    development default, which the server names in its start-up log. Setting any way to
    verify clients makes authentication required, unless ``anonymous`` says otherwise.
    """

    users_file: str | None = None
    """A users file (``stompbox passwd FILE USER``): login and passcode are checked
    against its argon2 hashes."""
    users: dict[str, str] | None = None
    """The ``[users]`` table: login -> argon2 hash (``stompbox passwd`` prints one)."""
    jwt_secret: str | None = None
    """HMAC key of bearer tokens (HS256)."""
    jwt_public_key_file: str | None = None
    """PEM public key of bearer tokens (RS256 or ES256)."""
    jwt_algorithms: list[str] | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_principal_claim: str = "sub"
    jwt_roles_claim: str = "roles"
    cert_login: bool = False
    """The CN of a verified TLS client certificate names the user (RabbitMQ's
    ``ssl_cert_login``); needs ``tls_ca``."""
    trust_login: bool = False
    """Development only: take CONNECT's ``login`` as the user, unchecked. Logged at
    start-up and for each session it names."""
    anonymous: bool | None = None
    """Whether a client that presents no credentials may connect; default: only when no
    way to authenticate is configured."""
    acl: list[AccessRule] = field(default_factory=list)
    """Access rules, first match wins; with any rule, what no rule allows is denied."""

    @property
    def authenticates(self) -> bool:
        """Whether some way to verify a client is configured (``trust_login`` verifies
        nothing, so it is not one)."""
        return bool(
            self.users_file
            or self.users is not None
            or self.jwt_secret
            or self.jwt_public_key_file
            or self.cert_login
        )
