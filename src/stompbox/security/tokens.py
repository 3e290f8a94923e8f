"""JWT bearer tokens: where clients put them, and the verifier that turns one into a principal.

Verification is PyJWT's; what this module adds is the choices that make it safe by
default: a fixed list of algorithms chosen by configuration and never by the token, ``none``
refused, no HMAC algorithm beside a public key, keys checked for size when the server
starts, and ``exp`` required so that no token is valid forever.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import AllowedPublicKeys, get_default_algorithms

from .principal import AuthenticationFailed, Principal

__all__ = ["TokenVerifier", "find_token"]

_HMAC = frozenset({"HS256", "HS384", "HS512"})
_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512", "secp256k1": "ES256K"}
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_ROLE_SEPARATORS = re.compile(r"[\s,]+")


class TokenVerifier:
    """Verifies signed JWTs with one secret (HS256/384/512) or one public key (RS*, PS*,
    ES*, EdDSA), and maps their claims to a :class:`Principal`.

    ``algorithms`` defaults to HS256 for a secret and, for a public key, to the one its type
    signs with (RS256 for RSA, ES256/384/512 by curve, EdDSA). A token with an ``aud`` is
    refused unless ``audience`` is set and matches: it was meant for someone else. Roles
    come from ``roles_claim``, a list of strings or one string of names separated by spaces
    or commas; no such claim means no roles. Mistakes in the settings raise ``ValueError``
    here, when the server starts, rather than refusing every token later.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key: str | None = None,
        algorithms: Sequence[str] | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        principal_claim: str = "sub",
        roles_claim: str = "roles",
        leeway: float = 0,
    ) -> None:
        if (secret is None) == (public_key is None):
            raise ValueError("a token verifier needs either a secret or a public key")
        if algorithms is not None and not algorithms:
            raise ValueError("no algorithms")
        if algorithms is not None and any(name.lower() == "none" for name in algorithms):
            raise ValueError("algorithm 'none' would accept unsigned tokens")
        key: bytes | AllowedPublicKeys
        if secret is not None:
            key = secret.encode()
            chosen = tuple(algorithms or ("HS256",))
            if wrong := [name for name in chosen if name not in _HMAC]:
                raise ValueError(f"algorithms {wrong} need a public key, not a secret")
        else:
            assert public_key is not None
            key = _load_public_key(public_key)
            chosen = tuple(algorithms or (_default_algorithm(key),))
            if confused := [name for name in chosen if name.upper() in _HMAC]:
                raise ValueError(
                    f"algorithms {confused} with a public key would let anyone who has the "
                    "key, which is public, sign tokens (key confusion); use a secret for HMAC"
                )
        _check_key(key, chosen)
        self._key = key
        self._algorithms = list(chosen)
        self.audience = audience
        self.issuer = issuer
        self.principal_claim = principal_claim
        self.roles_claim = roles_claim
        self.leeway = leeway

    @classmethod
    def from_files(
        cls,
        *,
        secret: str | None = None,
        secret_file: str | os.PathLike[str] | None = None,
        public_key_file: str | os.PathLike[str] | None = None,
        algorithms: Sequence[str] | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        principal_claim: str = "sub",
        roles_claim: str = "roles",
        leeway: float = 0,
    ) -> TokenVerifier:
        """The verifier for a configuration that names files: a PEM public key or
        certificate, or a secret kept out of the configuration (its final newline dropped).
        ``ValueError`` names a file that cannot be read."""
        if secret is not None and secret_file is not None:
            raise ValueError("give a secret or a secret file, not both")
        if secret_file is not None:
            secret = _read(secret_file).rstrip("\r\n")
        public_key = None if public_key_file is None else _read(public_key_file)
        return cls(
            secret=secret,
            public_key=public_key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            principal_claim=principal_claim,
            roles_claim=roles_claim,
            leeway=leeway,
        )

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self._algorithms)

    def verify(self, token: str) -> Principal:
        """The principal ``token`` names, or :class:`AuthenticationFailed` saying why not."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationFailed("token not yet valid (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationFailed(
                f"token for another audience (want {self.audience!r})"
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthenticationFailed(
                f"token from another issuer (want {self.issuer!r})"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationFailed(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationFailed("token has a bad signature") from None
        except jwt.InvalidAlgorithmError:
            raise AuthenticationFailed(
                f"token signed with an algorithm not allowed (allowed: {self._algorithms})"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed(f"invalid token: {exc}") from None
        name = claims.get(self.principal_claim)
        if name is None:
            raise AuthenticationFailed(f"token lacks the {self.principal_claim!r} claim")
        if not isinstance(name, str) or not name:
            raise AuthenticationFailed(f"token's {self.principal_claim!r} is not a name")
        return Principal(name, self._roles(claims.get(self.roles_claim)), via="jwt")

    def _roles(self, value: object) -> frozenset[str]:
        if value is None:
            return frozenset()
        if isinstance(value, str):
            return frozenset(role for role in _ROLE_SEPARATORS.split(value) if role)
        if isinstance(value, list) and all(isinstance(role, str) for role in value):
            return frozenset(role for role in value if role)
        raise AuthenticationFailed(
            f"token's {self.roles_claim!r} is neither a list of strings nor a string"
        )


def find_token(
    login: str | None,
    passcode: str | None,
    headers: Mapping[str, str],
    handshake: Mapping[str, Any] | None,
    *,
    query_parameter: str = "access_token",
    cookie: str = "access_token",
) -> str | None:
    """The bearer token a client sent, from the first place that has one, else ``None``.

    From the CONNECT frame: an ``authorization: Bearer <token>`` header, a ``token``
    header, then the passcode or the login if it has a JWT's shape (clients that can only
    set login and passcode put it there). Then from the WebSocket handshake, an ASGI scope:
    its ``Authorization`` header, the cookie ``cookie``, the query parameter
    ``query_parameter``. Browsers cannot set headers on a WebSocket, hence the last two;
    a query string shows up in proxies' logs, a cookie does not.
    """
    found = _bearer(headers.get("authorization")) or headers.get("token")
    for candidate in (passcode, login):
        if not found and candidate and _JWT_SHAPE.fullmatch(candidate):
            found = candidate
    if found or handshake is None:
        return found or None
    http_headers = [
        (bytes(name).lower(), bytes(value).decode("latin-1"))
        for name, value in handshake.get("headers", ())
    ]
    for name, value in http_headers:
        if name == b"authorization" and (found := _bearer(value)):
            return found
    for name, value in http_headers:
        if name == b"cookie" and (found := _cookie(value, cookie)):
            return found
    query = bytes(handshake.get("query_string", b"")).decode("latin-1")
    values = parse_qs(query).get(query_parameter)
    return values[0] if values and values[0] else None


def _bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _cookie(header: str, wanted: str) -> str | None:
    """The value of cookie ``wanted`` in a ``Cookie`` header; pieces that are not
    ``name=value`` are skipped rather than spoiling the rest, as SimpleCookie would."""
    for piece in header.split(";"):
        name, equals, value = piece.partition("=")
        if equals and name.strip() == wanted:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if value:
                return value
    return None


def _read(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{os.fspath(path)}: cannot read: {exc}") from exc


def _load_public_key(pem: str) -> AllowedPublicKeys:
    """A public key from PEM text: a public key, or a certificate that holds one."""
    key: PublicKeyTypes
    try:
        if "-----BEGIN CERTIFICATE-----" in pem:
            key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        else:
            key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ValueError(f"public key is not a PEM public key or certificate: {exc}") from None
    if not isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        raise ValueError(f"a {type(key).__name__} cannot verify JWTs")
    return key


def _default_algorithm(key: AllowedPublicKeys) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise ValueError(f"no JWT algorithm for the elliptic curve {key.curve.name}")
        return _CURVES[key.curve.name]
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA"
    return "RS256"


def _check_key(key: bytes | AllowedPublicKeys, algorithms: Sequence[str]) -> None:
    """Refuse a key that does not fit an algorithm or is too short for it (RFC 7518 3.2:
    an HMAC secret at least as long as the hash; RSA at least 2048 bits)."""
    known = get_default_algorithms()
    for name in algorithms:
        if name not in known:
            raise ValueError(f"unknown JWT algorithm {name!r}")
        algorithm = known[name]
        try:
            prepared = algorithm.prepare_key(key)
        except (jwt.InvalidKeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the key does not fit {name}: {exc}") from None
        if weakness := algorithm.check_key_length(prepared):
            raise ValueError(f"{name}: {weakness}")
