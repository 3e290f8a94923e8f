"""What applications see of a WebSocket upgrade: its ASGI scope, read when asked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

__all__ = ["HandshakeScope"]

_KEYS = (
    "type",
    "scheme",
    "http_version",
    "path",
    "raw_path",
    "query_string",
    "headers",
    "client",
    "subprotocols",
)


class HandshakeScope(Mapping[str, Any]):
    """The keys of an ASGI ``websocket`` scope that an ASGI server gives an application
    (path, query string, headers, client, subprotocols), for ``session.handshake``, so
    that an authenticator reading cookies, headers or a token in the query string works
    behind the listener as behind :class:`~stompbox.server.asgi.StompASGI`.

    It keeps the request's head as received (one ``bytes``, a few hundred of them)
    rather than a dict of lists of pairs several times that size, for the whole life of
    the connection; the scope is worked out from it at each look-up, which an
    authenticator makes once per CONNECT. The head must be one the ``websockets``
    library accepted: a request line and ``name: value`` lines, CRLF-terminated.
    """

    __slots__ = ("_client", "_head")

    def __init__(self, head: bytes, client: tuple[str, int] | None) -> None:
        self._head = head
        self._client = client

    def __getitem__(self, key: str) -> Any:
        if key not in _KEYS:
            raise KeyError(key)
        return self.scope()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)

    def __repr__(self) -> str:
        return f"HandshakeScope({self.scope()!r})"

    def scope(self) -> dict[str, Any]:
        """All of it, as a new dict."""
        request_line, *lines = self._head.split(b"\r\n")
        target = request_line.split(b" ")[1]
        raw_path, _, query = target.partition(b"?")
        headers = []
        for line in lines:
            if line:
                name, _, value = line.partition(b":")
                headers.append((name.lower(), value.strip(b" \t")))
        return {
            "type": "websocket",
            "scheme": "ws",
            "http_version": "1.1",
            "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path,
            "query_string": query,
            "headers": headers,
            "client": self._client,
            "subprotocols": [
                protocol.strip().decode("ascii")
                for name, value in headers
                if name == b"sec-websocket-protocol"
                for protocol in value.split(b",")
                if protocol.strip()
            ],
        }
