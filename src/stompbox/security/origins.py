"""Which web pages may open a WebSocket: the ``Origin`` check against cross-site WebSocket
hijacking.

A browser sends a site's cookies (and HTTP authentication) with every WebSocket handshake
to it, whichever page opened the socket, and no same-origin policy stops a page reading
the answer: unchecked, any site a logged-in user visits can talk STOMP as that user. The
browser does say which page it is in the ``Origin`` header (RFC 6454), which pages cannot
forge. Clients that are not browsers send none, or whatever they like; they are not
affected, and the check guards browsers' users, not the server (authentication does that).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["OriginPolicy"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = r"(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::([0-9]{1,5}))?"
_ORIGIN = re.compile(r"([a-z][a-z0-9+.-]*)://(\*\.)?" + _HOST)
_HOST_HEADER = re.compile(_HOST)


class _Origin(NamedTuple):
    """An origin reduced to what identifies it: the port is explicit (None only for a
    scheme without a default port)."""

    scheme: str
    host: str
    port: int | None


class OriginPolicy:
    """Decides from a handshake's ``Origin`` and ``Host`` headers whether it may proceed.

    ``allowed`` lists web origins: exact ones (``https://app.example.com``, with
    ``:port`` when not the scheme's default), any subdomain of a domain
    (``https://*.example.com``, not the domain itself), ``null`` (sandboxed frames,
    ``file:`` pages), or ``*`` for any. A page from the endpoint's own origin is always
    allowed, as Spring's ``setAllowedOrigins`` does, so ``None`` (or no entries) means
    same-origin only. A bad entry raises :class:`ValueError` naming it.
    """

    __slots__ = ("_any", "_exact", "_null", "_wildcards", "allowed")

    def __init__(self, allowed: Sequence[str] | None = None) -> None:
        if isinstance(allowed, str):
            raise ValueError(f"expected a list of origins, not the string {allowed!r}")
        self.allowed: tuple[str, ...] | None = None if allowed is None else tuple(allowed)
        self._any = False
        self._null = False
        self._exact: set[_Origin] = set()
        self._wildcards: list[_Origin] = []  # host: the suffix, with its leading dot
        for entry in self.allowed or ():
            self._add(entry)

    def __repr__(self) -> str:
        return f"OriginPolicy({list(self.allowed) if self.allowed is not None else None!r})"

    def allows(self, origin: str | None, host: str | None) -> bool:
        """Whether a handshake with these ``Origin`` and ``Host`` header values (None when
        absent) may proceed. No ``Origin``: yes, it is not a browser's page. Same-origin
        means the origin's host and port are the ``Host`` header's, whose port defaults
        to that of the origin's scheme. Malformed values are refused."""
        if origin is None or self._any:
            return True
        origin = origin.strip().lower()
        if origin == "null":
            return self._null
        parsed = _parse(origin)
        if parsed is None:
            return False
        if parsed in self._exact or _same_origin(parsed, host):
            return True
        return any(
            parsed.scheme == scheme
            and parsed.port == port
            and parsed.host.endswith(suffix)
            and len(parsed.host) > len(suffix)
            for scheme, suffix, port in self._wildcards
        )

    def _add(self, entry: object) -> None:
        if not isinstance(entry, str):
            raise ValueError(f"{entry!r} is not an origin: not a string")
        text = entry.strip().lower()
        if text == "*":
            self._any = True
            return
        if text == "null":
            self._null = True
            return
        match = _ORIGIN.fullmatch(text)
        if match is None:
            raise ValueError(f"{entry!r} is not an origin: {_why(text)}")
        scheme, wildcard, host, port_text = match.groups()
        if wildcard and host.startswith("["):
            raise ValueError(f"{entry!r}: '*.' goes before a domain name, not an address")
        port = _port(scheme, port_text)
        if port is None and port_text is not None:
            raise ValueError(f"{entry!r}: port {port_text} is not 1-65535")
        if wildcard:
            self._wildcards.append(_Origin(scheme, "." + host, port))
        else:
            self._exact.add(_Origin(scheme, host, port))


def _parse(origin: str) -> _Origin | None:
    """A lower-case ``Origin`` value as scheme, host and port; None if malformed or a
    wildcard."""
    match = _ORIGIN.fullmatch(origin)
    if match is None or match[2]:
        return None
    scheme, _, host, port_text = match.groups()
    port = _port(scheme, port_text)
    if port is None and port_text is not None:
        return None
    return _Origin(scheme, host, port)


def _port(scheme: str, text: str | None) -> int | None:
    """The port given, or the scheme's default; None if out of range or no default."""
    if text is None:
        return _DEFAULT_PORTS.get(scheme)
    port = int(text)
    return port if 0 < port < 65536 else None


def _same_origin(origin: _Origin, host: str | None) -> bool:
    if host is None or origin.scheme not in _DEFAULT_PORTS:
        return False
    match = _HOST_HEADER.fullmatch(host.strip().lower())
    if match is None:
        return False
    name, port_text = match.groups()
    return name == origin.host and _port(origin.scheme, port_text) == origin.port


def _why(text: str) -> str:
    _, separator, rest = text.partition("://")
    if not separator:
        return "it needs a scheme, as in https://app.example.com"
    if "/" in rest or "?" in rest or "#" in rest:
        return "an origin has no path, query or trailing slash"
    if "@" in rest:
        return "an origin has no user name"
    if "*" in rest:
        return "a wildcard is a whole first label, as in https://*.example.com"
    return "expected scheme://host[:port], scheme://*.domain[:port], null or *"
