"""The SockJS endpoint: an ASGI app that routes each request of protocol 0.3.3 to its
page or transport.

Mount it at a prefix (``Mount("/echo", app=SockJSEndpoint(handler))``) or give the prefix
to the constructor; the client is then ``new SockJS("/echo")``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import framing, transports
from .http import NO_CACHE, Headers, Receive, Request, Scope, Send, cache_for_a_year
from .registry import SessionTable
from .session import SockJSHandler, SockJSSession

__all__ = ["SockJSEndpoint"]

_IFRAME = re.compile(r"/iframe(-[^/]*)?\.html")
_RECEIVERS = {"xhr": "POST", "xhr_streaming": "POST", "eventsource": "GET", "htmlfile": "GET"}
_RECEIVERS |= {"jsonp": "GET", "xhr_send": "POST", "jsonp_send": "POST"}
_CORS_PREFLIGHT = frozenset({"xhr", "xhr_send", "xhr_streaming"})
_NEED_IFRAME = frozenset({"htmlfile", "jsonp", "jsonp_send"})
"""Transports a page of any origin can drive (script tags, the iframe page) without
sending an ``Origin`` to check: off when ``allow_origin`` is given, as in Spring."""


class SockJSEndpoint:
    """SockJS 0.3.3 as an ASGI app, calling ``handler`` for each session.

    Limits: ``max_queued`` characters waiting for the client per session (past it the
    session closes with ``c[4500,"Send buffer overflow"]``); ``max_message_bytes`` per
    POST body (413) or WebSocket message (close 1009); ``max_sessions`` at once, counting
    WebSocket ones (past it a receiving request gets 503, a WebSocket is refused with
    1013). ``None`` disables a limit; ``heartbeat=None`` sends no heartbeats.
    """

    def __init__(
        self,
        handler: SockJSHandler,
        *,
        websocket: bool = True,
        cookie_needed: bool = False,
        heartbeat: float | None = 25.0,
        disconnect_delay: float = 5.0,
        response_limit: int = 128 * 1024,
        max_queued: int | None = 1 << 20,
        max_sessions: int | None = 10_000,
        max_message_bytes: int | None = 16 << 20,
        allow_origin: Callable[[Mapping[str, Any]], bool] | None = None,
        client_url: str = "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js",
        websocket_subprotocols: Sequence[str] = (),
        prefix: str = "",
    ) -> None:
        self.handler = handler
        self.websocket = websocket
        self.cookie_needed = cookie_needed
        self.response_limit = response_limit
        self.max_message_bytes = max_message_bytes
        self.allow_origin = allow_origin
        self.websocket_subprotocols = tuple(websocket_subprotocols)
        self.prefix = prefix.rstrip("/")
        self._table = SessionTable(
            handler,
            heartbeat=heartbeat,
            disconnect_delay=disconnect_delay,
            max_queued=max_queued,
            max_sessions=max_sessions,
        )
        self._iframe = framing.IFRAME_PAGE % html.escape(client_url)
        self._etag = '"' + hashlib.sha256(self._iframe.encode()).hexdigest()[:32] + '"'

    @property
    def sessions(self) -> dict[str, SockJSSession]:
        """The open sessions of the HTTP transports, by id (WebSocket sessions, which may
        share an id, are not in it)."""
        return self._table.sessions

    def close_all(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close every session, WebSocket ones included (for a server shutting down)."""
        self._table.close_all(code, reason)

    def _route_path(self, scope: Scope) -> str:
        """The path under the endpoint: past the mount point (``root_path``, which
        Starlette keeps in ``path``), or else past ``prefix``."""
        path: str = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
            return path[len(root) :]
        if self.prefix and path.startswith(self.prefix):
            rest = path[len(self.prefix) :]
            if rest[:1] in ("", "/"):
                return rest
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = self._route_path(scope)
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, path)
        elif scope["type"] == "http":
            await self._http(Request(scope, receive, send), path)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close_all()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _allowed(self, scope: Scope) -> bool:
        return self.allow_origin is None or self.allow_origin(scope)

    def _split(self, path: str) -> tuple[str, str] | None:
        """(session id, transport) of ``/<server>/<session>/<transport>``."""
        parts = path[1:].split("/") if path.startswith("/") else []
        if len(parts) == 3 and framing.valid_id(parts[0]) and framing.valid_id(parts[1]):
            return parts[1], parts[2]
        return None

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        split = self._split(path)
        raw = path == "/websocket"
        if (
            not self.websocket
            or not (raw or (split is not None and split[1] == "websocket"))
            or not self._allowed(scope)
        ):
            await send({"type": "websocket.close", "code": 1008})
            return
        await transports.serve_websocket(
            self._table,
            scope,
            receive,
            send,
            session_id="" if split is None else split[0],
            raw=raw,
            subprotocols=self.websocket_subprotocols,
            max_bytes=self.max_message_bytes,
        )

    async def _http(self, request: Request, path: str) -> None:
        if path in ("", "/"):
            if not await self._only(request, "GET"):
                await request.respond(200, [], "Welcome to SockJS!\n")
        elif path == "/info":
            await self._info(request)
        elif _IFRAME.fullmatch(path):
            await self._iframe_page(request)
        elif path == "/websocket" and self.websocket:
            await self._websocket_over_http(request)
        elif (split := self._split(path)) is not None:
            await self._transport(request, *split)
        else:
            await request.respond(404, [], "Not Found")

    async def _only(self, request: Request, method: str) -> bool:
        """Answer 405 unless the request's method is ``method``."""
        if request.method == method:
            return False
        await request.respond(405, [("Allow", method)], content_type=None)
        return True

    async def _options(self, request: Request, methods: str) -> None:
        await request.respond(
            204,
            [
                *cache_for_a_year(),
                ("Access-Control-Max-Age", str(31_536_000)),
                ("Access-Control-Allow-Methods", methods),
                *request.cors(),
            ],
            content_type=None,
        )

    async def _info(self, request: Request) -> None:
        if not self._allowed(request.scope):
            await request.respond(403, [], "Origin not allowed.")
        elif request.method == "OPTIONS":
            await self._options(request, "OPTIONS, GET")
        elif not await self._only(request, "GET"):
            info = {
                "websocket": self.websocket,
                "cookie_needed": self.cookie_needed,
                "origins": ["*:*"],
                "entropy": secrets.randbits(32),
            }
            await request.respond(
                200,
                [*NO_CACHE, *request.cors()],
                json.dumps(info, separators=(",", ":")),
                content_type="application/json; charset=UTF-8",
            )

    async def _iframe_page(self, request: Request) -> None:
        if self.allow_origin is not None:
            await request.respond(404, [], "Not Found")
        elif await self._only(request, "GET"):
            pass
        elif self._etag in request.headers.get("if-none-match", ""):
            await request.respond(304, [("ETag", self._etag)], content_type=None)
        else:
            headers = [*cache_for_a_year(), ("ETag", self._etag)]
            await request.respond(200, headers, self._iframe, "text/html; charset=UTF-8")

    async def _websocket_over_http(self, request: Request) -> None:
        """A plain HTTP request for a WebSocket URL, answered as the protocol says."""
        if await self._only(request, "GET"):
            return
        if request.headers.get("upgrade", "").lower() == "websocket":
            await request.respond(400, [], '"Connection" must be "Upgrade".')
        else:
            await request.respond(400, [], 'Can "Upgrade" only to "WebSocket".')

    async def _transport(self, request: Request, session_id: str, name: str) -> None:
        method = _RECEIVERS.get(name)
        if name == "websocket" and self.websocket:
            await self._websocket_over_http(request)
            return
        if method is None or (name in _NEED_IFRAME and self.allow_origin is not None):
            await request.respond(404, [], "Not Found")
            return
        if not self._allowed(request.scope):
            await request.respond(403, [], "Origin not allowed.")
            return
        if request.method == "OPTIONS" and name in _CORS_PREFLIGHT:
            await self._options(request, "OPTIONS, POST")
            return
        if await self._only(request, method):
            return
        headers: Headers = [*NO_CACHE, *request.cors()]
        if self.cookie_needed:
            headers += request.jsessionid()
        if name in ("xhr_send", "jsonp_send"):
            await transports.send_messages(
                self._table,
                request,
                session_id,
                headers,
                max_bytes=self.max_message_bytes,
                jsonp=name == "jsonp_send",
            )
            return
        receiver = await self._receiver(request, name, headers)
        if receiver is not None:
            await transports.receive_frames(
                self._table, request, session_id, receiver, headers, self.response_limit
            )

    async def _receiver(
        self, request: Request, name: str, headers: Headers
    ) -> transports.Receiver | None:
        if name == "xhr":
            return transports.XHR
        if name == "xhr_streaming":
            return transports.XHR_STREAMING
        if name == "eventsource":
            return transports.EVENTSOURCE
        callback = request.query.get("c", "")
        if not callback:
            await request.respond(500, headers, '"callback" parameter required')
            return None
        if not framing.valid_callback(callback):
            await request.respond(500, headers, 'invalid "callback" parameter')
            return None
        return transports.htmlfile(callback) if name == "htmlfile" else transports.jsonp(callback)
