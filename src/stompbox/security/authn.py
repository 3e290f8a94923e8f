"""Authentication: from what a client presents at CONNECT to a verified :class:`Principal`.

A :class:`SecurityPolicy` is built once from a :class:`SecurityConfig` and asked once per
CONNECT. It tries, in order, what is configured: a verified TLS client certificate, a
bearer token (JWT), login and passcode against a users file, and, for development only,
CONNECT's ``login`` taken on trust. Credentials that are presented and do not verify
fail the CONNECT; none at all leave the session anonymous, which only a server with no
way to authenticate (or ``anonymous = true``) accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .acl import AccessControl
from .config import SecurityConfig
from .passwords import UsersFile
from .principal import AuthenticationFailed, Principal
from .tokens import TokenVerifier, find_token

__all__ = ["Credentials", "SecurityPolicy", "principal_of"]

log = logging.getLogger("stompbox.security")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client presented: CONNECT's login, passcode and headers, the WebSocket
    handshake's ASGI scope (cookies, headers, query string) when there is one, its TLS
    client certificate when one verified, and its address."""

    login: str | None
    passcode: str | None
    headers: Mapping[str, str]
    handshake: Mapping[str, Any] | None = None
    client_cert: Mapping[str, Any] | None = None
    address: str = ""


def principal_of(value: Any, via: str) -> Principal | None:
    """A :class:`Principal` for what an application's authenticator returned: itself, a
    name, or an object with a ``name``/``display_name`` and maybe ``roles`` (Starlette's
    users). None stays None."""
    if value is None or isinstance(value, Principal):
        return value
    if isinstance(value, str):
        return Principal(value, via=via)
    name = getattr(value, "name", None) or getattr(value, "display_name", None) or str(value)
    roles = getattr(value, "roles", None) or ()
    return Principal(str(name), frozenset(str(r) for r in roles), via)


def common_name(cert: Mapping[str, Any]) -> str | None:
    """The subject's CN of a certificate as :meth:`ssl.SSLSocket.getpeercert` gives it."""
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class SecurityPolicy:
    """The verifiers and rules of one :class:`SecurityConfig`, built once."""

    def __init__(
        self,
        config: SecurityConfig,
        separator: str = "/",
        prefixes: Iterable[str] = ("/topic/", "/queue/"),
    ) -> None:
        self.config = config
        users: UsersFile | None = None
        if config.users_file:
            users = UsersFile.load(config.users_file)
        elif config.users is not None:
            users = UsersFile.from_hashes(config.users)
        self.users = users
        self.tokens: TokenVerifier | None = None
        if config.jwt_secret or config.jwt_public_key_file:
            self.tokens = TokenVerifier.from_files(
                secret=config.jwt_secret,
                public_key_file=config.jwt_public_key_file,
                algorithms=config.jwt_algorithms,
                audience=config.jwt_audience,
                issuer=config.jwt_issuer,
                principal_claim=config.jwt_principal_claim,
                roles_claim=config.jwt_roles_claim,
            )
        self.acl = AccessControl(config.acl, separator, tuple(prefixes)) if config.acl else None
        """None when no rule is configured: everything is allowed."""
        self.anonymous = (
            config.anonymous if config.anonymous is not None else not config.authenticates
        )
        """Whether a client that presents nothing may connect."""

    @property
    def blocking(self) -> bool:
        """Whether :meth:`authenticate` may take long (password hashing: run it in a
        thread)."""
        return self.users is not None

    def authenticate(self, credentials: Credentials) -> Principal | None:
        """The principal ``credentials`` prove, or None if they hold nothing this policy
        checks; raises :class:`AuthenticationFailed` if they prove nothing."""
        config = self.config
        cert = credentials.client_cert
        if config.cert_login and cert is not None:
            name = common_name(cert)
            if name is None:
                raise AuthenticationFailed("client certificate has no CN")
            return Principal(name, via="tls-cert")
        if self.tokens is not None:
            token = find_token(
                credentials.login,
                credentials.passcode,
                credentials.headers,
                credentials.handshake,
            )
            if token is not None:
                return self.tokens.verify(token)
        handshake = credentials.handshake
        user = handshake.get("user") if handshake is not None else None
        if getattr(user, "is_authenticated", False):  # an ASGI app's authentication said so
            return principal_of(user, "asgi")
        login = credentials.login
        if self.users is not None and login:
            return self.users.verify(login, credentials.passcode or "")
        if config.trust_login and login:
            log.warning("%s: trusting login %r unchecked (trust_login)", credentials.address, login)
            return Principal(login, via="trusted-login")
        if login and config.authenticates:
            raise AuthenticationFailed(f"login {login!r} but no way to check it is configured")
        return None

    def describe(self) -> str:
        """What this policy trusts, for the start-up log."""
        ways = []
        config = self.config
        if config.cert_login:
            ways.append("TLS client certificates")
        if self.tokens is not None:
            ways.append("JWT bearer tokens")
        if self.users is not None:
            ways.append(f"{len(self.users.names())} user(s) with argon2 password hashes")
        if config.trust_login:
            ways.append("CONNECT's login UNCHECKED (trust_login: development only)")
        text = "authentication: " + (", ".join(ways) or "none")
        text += "; anonymous clients " + ("allowed" if self.anonymous else "refused")
        if self.acl is None:
            text += "; no access rules: every client may use every destination"
        else:
            text += f"; {len(config.acl)} access rule(s), default deny"
        return text
