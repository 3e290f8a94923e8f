"""The management listener's JSON API under ``/api/``: what the console and the
``stompbox status`` and ``stompbox queues`` commands read, and the few actions an
operator may take (close a connection, purge a queue, move dead letters back).

The routes are data (:data:`ROUTES`), which the OpenAPI document is checked against.
The broker's rules live in :class:`~stompbox.broker.admin.BrokerAdmin`; this module
only parses requests and writes JSON. :class:`~.management.Management` checks
credentials before handing a request here.

A queue is named by its full destination, percent-encoded as one path segment
(``/api/queues/%2Fqueue%2Forders``), as RabbitMQ's API does. A connection's id is the
number the registry gave it when it opened (``"1"``, ``"2"``, ...): stable while it is
open and never reused, and known before the client's CONNECT, unlike its session id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote

from stompbox._version import __version__
from stompbox.broker.admin import BROWSE_LIMIT, AdminError, BrokerAdmin, NoSuchQueue

from .admin_openapi import OPENAPI
from .metrics import transport_of
from .rates import RateSampler

if TYPE_CHECKING:
    from .registry import SessionRegistry
    from .session import ServerSession

__all__ = ["MAX_BODY", "REQUEUE_LIMIT", "ROUTES", "AdminApi", "Route"]

log = logging.getLogger("stompbox.server")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY: Final = 16 * 1024
"""The largest request body read (a requeue's options are a few dozen bytes)."""
REQUEUE_LIMIT: Final = 10_000
"""The most messages one requeue moves, all in one turn of the event loop."""
MAX_REASON: Final = 1000
"""The longest reason an administrator may give for closing a connection."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    params: dict[str, str]
    """The path's ``{name}`` parts, percent-decoded."""
    query: dict[str, list[str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    """As OpenAPI writes it: ``/api/queues/{name}``."""
    handler: str
    """The :class:`AdminApi` method that answers it."""

    def match(self, segments: list[str]) -> dict[str, str] | None:
        parts = self.path.split("/")[1:]
        if len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


ROUTES: Final = (
    Route("GET", "/api/overview", "overview"),
    Route("GET", "/api/connections", "connections"),
    Route("DELETE", "/api/connections/{id}", "close_connection"),
    Route("GET", "/api/subscriptions", "subscriptions"),
    Route("GET", "/api/queues", "queues"),
    Route("GET", "/api/queues/{name}", "queue"),
    Route("GET", "/api/queues/{name}/messages", "browse"),
    Route("DELETE", "/api/queues/{name}/messages", "purge"),
    Route("POST", "/api/queues/{name}/requeue", "requeue"),
    Route("GET", "/api/openapi.json", "openapi"),
)


class AdminApi:
    """The ``/api/`` routes over one registry and its broker, as an ASGI app.

    Made inside the running event loop (as the management listener is), it starts its
    :class:`RateSampler` there; ``interval`` is the sampler's period in seconds.
    """

    def __init__(self, registry: SessionRegistry, interval: float = 5.0) -> None:
        self.registry = registry
        self.broker = BrokerAdmin(registry.broker)
        self.sampler = RateSampler(self.broker, interval)
        self.started = time.monotonic()
        """Uptime counts from here: the listener starts with the server."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.sampler.start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, answer = await self._handle(scope, receive)
        body = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").partition("?")[0]
        segments = [unquote(segment) for segment in path.split("/")[1:]]
        matched = [(route, route.match(segments)) for route in ROUTES]
        found = [(route, params) for route, params in matched if params is not None]
        if not found:
            hint = "see /api/openapi.json"
            if path.startswith(("/api/queues/", "/api/connections/")):
                hint = "a queue's name is one percent-encoded segment: /api/queues/%2Fqueue%2Fa"
            return 404, {"error": f"no such route: {path} ({hint})"}
        method = scope["method"]
        chosen = next(((r, p) for r, p in found if r.method == method), None)
        if chosen is None:
            allowed = ", ".join(route.method for route, _ in found)
            return 405, {"error": f"{method} is not allowed on {path}; allowed: {allowed}"}
        route, params = chosen
        try:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            body = await _read_body(receive) if method == "POST" else b""
            handler: Callable[[Request], Any] = getattr(self, route.handler)
            return 200, handler(Request(params, query, body))
        except ApiError as exc:
            return exc.status, {"error": str(exc)}
        except NoSuchQueue as exc:
            return 404, {"error": str(exc)}
        except AdminError as exc:
            return 400, {"error": str(exc)}

    # -- routes ------------------------------------------------------------------------

    def overview(self, request: Request) -> dict[str, Any]:
        uptime = time.monotonic() - self.started
        return overview(self.registry, uptime, asdict(self.sampler.rates()))

    def connections(self, request: Request) -> list[dict[str, Any]]:
        numbers = self.registry.numbers
        now = time.time()
        ordered = sorted(self.registry.sessions, key=lambda s: numbers.get(s, 0))
        return [_connection(str(numbers.get(s, 0)), s, now) for s in ordered]

    def close_connection(self, request: Request) -> dict[str, Any]:
        wanted = request.params["id"]
        session = next((s for s, n in self.registry.numbers.items() if str(n) == wanted), None)
        if session is None:
            raise ApiError(404, f"no open connection {wanted}")
        reason = _one(request.query, "reason") or ""
        if len(reason) > MAX_REASON:
            raise ApiError(400, f"reason is longer than {MAX_REASON} characters")
        session.error("closed by an administrator", reason)  # logged with the peer
        return {"closed": wanted, "peer": session.peer}

    def subscriptions(self, request: Request) -> list[dict[str, Any]]:
        by_session = {
            s.session.id: str(n) for s, n in self.registry.numbers.items() if s.session is not None
        }
        found = []
        for sub in self.broker.subscriptions():
            row = {"connection": by_session.get(sub.session or ""), **asdict(sub)}
            if row["durable"] is None:
                del row["durable"]  # only durable subscriptions say so
            found.append(row)
        return found

    def queues(self, request: Request) -> list[dict[str, Any]]:
        return [self._queue(info.name, asdict(info)) for info in self.broker.queues()]

    def queue(self, request: Request) -> dict[str, Any]:
        name = request.params["name"]
        answer = self._queue(name, asdict(self.broker.queue(name)))
        answer["history"] = [asdict(point) for point in self.sampler.history(name)]
        return answer

    def browse(self, request: Request) -> list[dict[str, Any]]:
        limit = _number(request.query, "limit", 20, BROWSE_LIMIT)
        return [
            {**asdict(message), "headers": [list(pair) for pair in message.headers]}
            for message in self.broker.browse(request.params["name"], limit)
        ]

    def purge(self, request: Request) -> dict[str, Any]:
        name = request.params["name"]
        purged = self.broker.purge(name)
        log.warning("queue %s purged by an administrator: %d message(s) dropped", name, purged)
        return {"purged": purged}

    def requeue(self, request: Request) -> dict[str, Any]:
        options = _json_object(request.body, {"to", "limit"})
        to = options.get("to")
        if to is not None and not isinstance(to, str):
            raise ApiError(400, f"'to' must be a destination (a string), not {to!r}")
        limit = options.get("limit", 1000)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= REQUEUE_LIMIT:
            raise ApiError(
                400, f"'limit' must be a whole number from 1 to {REQUEUE_LIMIT}, not {limit!r}"
            )
        name = request.params["name"]
        result = self.broker.requeue(name, to, limit)
        log.info("%d message(s) moved from %s by an administrator", result.moved, name)
        answer: dict[str, Any] = {"moved": result.moved}
        if result.stopped is not None:
            answer["stopped"] = result.stopped
        return answer

    def openapi(self, request: Request) -> dict[str, Any]:
        return OPENAPI

    def _queue(self, name: str, answer: dict[str, Any]) -> dict[str, Any]:
        answer.update(asdict(self.sampler.queue_rates(name)))
        return answer


def overview(registry: SessionRegistry, uptime: float, rates: dict[str, float]) -> dict[str, Any]:
    """``GET /api/overview``'s answer, which the console's live feed publishes too."""
    broker = registry.broker
    stats = broker.stats
    return {
        "version": __version__,
        "uptime_seconds": round(uptime, 3),
        "connections": len(registry.sessions),
        "sessions": len(broker.sessions),
        "subscriptions": sum(len(s.subscriptions) for s in broker.sessions.values()),
        "queues": len(broker.queue_depths()),
        "messages": {
            "published": stats.published,
            "delivered": stats.delivered,
            "redelivered": stats.redelivered,
            "dead_lettered": stats.dead_lettered,
            "dropped_slow_consumer": stats.dropped_slow_consumer,
        },
        "rates": rates,
        "memory": {"used_bytes": broker.memory.used, "budget_bytes": broker.memory.limit},
    }


def _connection(number: str, session: ServerSession, now: float) -> dict[str, Any]:
    broker_session = session.session
    identity = session.identity
    return {
        "id": number,
        "peer": session.peer,
        "address": session.address,
        "transport": transport_of(session.peer),
        "user": identity.name if identity is not None else None,
        "session": broker_session.id if broker_session is not None else None,
        "version": broker_session.version if broker_session is not None else None,
        "opened_at": session.opened_at,
        "age_seconds": round(max(0.0, now - session.opened_at), 3),
        "bytes_in": session.bytes_in,
        "bytes_out": session.bytes_out,
        "subscriptions": len(broker_session.subscriptions) if broker_session is not None else 0,
    }


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _number(query: dict[str, list[str]], name: str, default: int, most: int) -> int:
    text = _one(query, name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= most:
        raise ApiError(400, f"{name} must be a whole number from 1 to {most}, not {text!r}")
    return int(text)


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if len(body) > MAX_BODY:
            raise ApiError(400, f"request body is larger than {MAX_BODY} bytes")
        if not message.get("more_body"):
            return body


def _json_object(body: bytes, keys: set[str]) -> dict[str, Any]:
    """An optional JSON object body with only ``keys``; empty is ``{}``."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "request body must be a JSON object")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise ApiError(400, f"unknown key(s) {unknown}; allowed: {sorted(keys)}")
    return value
