"""The STOMP frame value type, command names and protocol versions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, NamedTuple

__all__ = [
    "CLIENT_COMMANDS",
    "SERVER_COMMANDS",
    "SUPPORTED_VERSIONS",
    "Frame",
    "Headers",
    "Version",
]

Version = Literal["1.0", "1.1", "1.2"]
SUPPORTED_VERSIONS: Final[tuple[Version, ...]] = ("1.0", "1.1", "1.2")

Headers = tuple[tuple[str, str], ...]
"""Headers in wire order, repeats kept: a dict would lose the first-wins rule of STOMP 1.2."""

CLIENT_COMMANDS: Final = frozenset(
    {
        "CONNECT",
        "STOMP",
        "SEND",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "ACK",
        "NACK",
        "BEGIN",
        "COMMIT",
        "ABORT",
        "DISCONNECT",
    }
)
SERVER_COMMANDS: Final = frozenset({"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"})


class Frame(NamedTuple):
    """One STOMP frame: a command, ordered headers (repeats kept) and a body of bytes.

    A NamedTuple rather than a frozen dataclass: the parser builds one per frame on the hot
    path, and a tuple is the cheapest immutable value Python can build
    (``benchmarks/protocol.py``).
    """

    command: str
    headers: Headers = ()
    body: bytes = b""

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of header ``name``: only the first occurrence counts."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Return every value of header ``name``, in wire order."""
        return [value for key, value in self.headers if key == name]

    def with_headers(self, headers: Iterable[tuple[str, str]]) -> Frame:
        """Return a copy with ``headers`` put in front, so they win over existing ones."""
        new = tuple(headers)
        names = {name for name, _ in new}
        return self._replace(headers=new + tuple(h for h in self.headers if h[0] not in names))
