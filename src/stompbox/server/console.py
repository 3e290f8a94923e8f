"""The web console's files, served by the management listener: ``/`` is its page and
``/console/<file>`` the rest of the ``console/`` directory shipped in the package.

Only the files of that directory are served, by a name looked up in a table made when
the listener starts, never by a path joined from the request: ``..``, a subdirectory or
an encoded slash is simply not a name in the table. Every answer forbids framing (the
console has buttons that close connections and purge queues) and loads nothing from
other origins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from typing import Final

__all__ = ["CONSOLE_PREFIX", "SECURITY_HEADERS", "ConsoleFiles", "ConsoleUser"]

CONSOLE_PREFIX: Final = "/console/"

CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
"""The kinds of file the console is made of; a file of another kind is not served."""

SECURITY_HEADERS: Final = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
)


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """Who the management listener let in, in the shape ASGI authentication gives
    (Starlette's ``BaseUser``): a WebSocket handshake's ``scope["user"]``, which the
    server's security policy takes as the STOMP session's identity."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    is_authenticated: bool = True


class ConsoleFiles:
    """The console's files by name, read once: ``{name: (content type, bytes)}``."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        for entry in files(__package__ or "stompbox.server").joinpath("console").iterdir():
            kind = CONTENT_TYPES.get("." + entry.name.rpartition(".")[2])
            if entry.is_file() and kind is not None and not entry.name.startswith("."):
                self.files[entry.name] = (kind, entry.read_bytes())

    @staticmethod
    def wants(path: str) -> bool:
        """Whether a request for ``path`` is the console's to answer."""
        return path == "/" or path.startswith(CONSOLE_PREFIX)

    def find(self, path: str) -> tuple[str, bytes] | None:
        """The content type and bytes for ``path`` (``/`` is ``index.html``), or None."""
        name = "index.html" if path == "/" else path[len(CONSOLE_PREFIX) :]
        return self.files.get(name)
