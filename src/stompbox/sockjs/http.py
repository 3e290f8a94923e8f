"""The little of HTTP the SockJS transports need over ASGI: one request, its headers,
query and body, and the header sets the protocol asks for (CORS, caching, cookies)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

__all__ = ["BodyTooLarge", "Request"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[str, str]]

ONE_YEAR = 31_536_000
NO_CACHE: Headers = [("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")]
TEXT = "text/plain; charset=UTF-8"
JAVASCRIPT = "application/javascript; charset=UTF-8"


def cache_for_a_year() -> Headers:
    return [
        ("Cache-Control", f"public, max-age={ONE_YEAR}"),
        ("Expires", formatdate(time.time() + ONE_YEAR, usegmt=True)),
    ]


class BodyTooLarge(Exception):
    """A request body past ``max_message_bytes``; answered with 413."""


class Request:
    """One HTTP request of the ASGI server, and the response to it."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self._send = send
        self.method: str = scope.get("method", "GET")
        self.headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text
        query = scope.get("query_string", b"").decode("latin-1")
        self.query = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}

    def cors(self) -> Headers:
        """Allow the request's origin (``*`` when it has none, or ``null`` from a file:
        page, which browsers would read as a refusal), with credentials for cookies."""
        origin = self.headers.get("origin", "")
        headers = [
            ("Access-Control-Allow-Origin", origin if origin and origin != "null" else "*"),
            ("Access-Control-Allow-Credentials", "true"),
        ]
        requested = self.headers.get("access-control-request-headers")
        if requested:
            headers.append(("Access-Control-Allow-Headers", requested))
        return headers

    def jsessionid(self) -> Headers:
        """``JSESSIONID``, echoed or ``dummy``: load balancers stick sessions by it."""
        value = "dummy"
        for part in self.headers.get("cookie", "").split(";"):
            name, _, cookie = part.strip().partition("=")
            if name == "JSESSIONID" and cookie:
                value = cookie
        return [("Set-Cookie", f"JSESSIONID={value}; path=/")]

    async def read_body(self, limit: int | None) -> bytes:
        """The whole body; :class:`BodyTooLarge` past ``limit`` bytes."""
        declared = self.headers.get("content-length", "")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def start(self, status: int, headers: Headers) -> None:
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
            }
        )

    async def write(self, text: str, *, more: bool = True) -> None:
        await self._send({"type": "http.response.body", "body": text.encode(), "more_body": more})

    async def respond(
        self, status: int, headers: Headers, body: str = "", content_type: str | None = TEXT
    ) -> None:
        """A whole response; ``content_type`` None sends none (304, 405)."""
        data = body.encode()
        if content_type is not None:
            headers = [("Content-Type", content_type), *headers]
        if status not in (204, 304):
            headers = [*headers, ("Content-Length", str(len(data)))]
        await self.start(status, headers)
        await self._send({"type": "http.response.body", "body": data})
