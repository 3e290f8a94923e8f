"""The management listener (RabbitMQ's 15672): health and readiness probes and
Prometheus metrics, as a plain ASGI app that uvicorn serves beside the broker.

Metrics are read when they are scraped, from the broker's counters and the plain integer
counters of :mod:`.traffic` (a dict increment per frame, latencies timed on one read in
16). With users configured (``[security]``), every route but ``/healthz`` wants HTTP Basic
credentials of a user with the ``management`` role (a verified pair is remembered for
:data:`VERIFIED_FOR` seconds, so that a console polling every few seconds does not pay a
password hash each time); without, the listener is as open as the broker (and, like it,
on loopback by default).

It also serves the web console (``/``, ``/console/<file>``: :mod:`.console`) and, for its
live overview (:mod:`.overview_feed`), STOMP over WebSocket at ``/ws``: ordinary broker
sessions, whose user is the one these credentials named.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import CollectorRegistry, generate_latest

from stompbox.security.authn import Credentials

from .admin import AdminApi
from .asgi import StompASGI
from .console import SECURITY_HEADERS, ConsoleFiles, ConsoleUser
from .gate import Refusal
from .metrics import ServerMetrics, transport_of
from .overview_feed import OverviewFeed

if TYPE_CHECKING:
    from .registry import SessionRegistry
    from .tcp import TcpServer

log = logging.getLogger("stompbox.server")

__all__ = [
    "MANAGEMENT_ROLE",
    "Management",
    "ManagementListener",
    "start_management",
    "transport_of",
]

MANAGEMENT_ROLE = "management"
VERIFIED_FOR = 30.0
"""Seconds a verified ``Authorization`` value is taken without checking it again."""
_VERIFIED_LIMIT = 256

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Management:
    """``/healthz``, ``/readyz`` and ``/metrics`` for one server's registry."""

    def __init__(self, registry: SessionRegistry) -> None:
        self.registry = registry
        self.metrics = CollectorRegistry(auto_describe=False)
        self.metrics.register(ServerMetrics(registry))
        self.console = ConsoleFiles()
        """The web console at ``/`` and ``/console/`` (server/console.py)."""
        self.stomp = StompASGI(registry=registry)
        """STOMP over WebSocket at ``/ws`` for the console: ordinary broker sessions."""
        self.feed = OverviewFeed(registry, MANAGEMENT_ROLE)
        """The console's live overview, on a system topic the sessions guard."""
        registry.gate.guard = self.feed
        self.admin = AdminApi(registry)
        """The JSON API under ``/api/`` (server/admin.py), behind the same credentials."""
        self._verified: dict[bytes, tuple[float, ConsoleUser]] = {}
        """Digests of recently verified ``Authorization`` values (never the values)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] == "websocket":  # the console's STOMP, behind the same credentials
            if scope["path"] == "/ws" and await self._allowed(scope):
                await self.stomp(scope, receive, cast(Any, send))  # ASGI's send, typed looser
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        console = self.console.wants(path)
        api = path.startswith("/api/")  # which answers methods and 405 by route itself
        if scope["method"] not in ("GET", "HEAD") and not api:
            await _answer(send, 405, "text/plain", b"GET only\n")
        elif path == "/healthz":
            await _answer(send, 200, "text/plain", b"ok\n")
        elif path not in ("/readyz", "/metrics") and not api and not console:
            await _answer(send, 404, "text/plain", b"not found: /healthz /readyz /metrics\n")
        elif not await self._allowed(scope):
            await _answer(
                send,
                401,
                "text/plain",
                f"management needs a user with the {MANAGEMENT_ROLE!r} role\n".encode(),
                (b"www-authenticate", b'Basic realm="stompbox"'),
            )
        elif api:
            await self.admin(scope, receive, send)
        elif console:
            found = self.console.find(path)
            if found is None:
                await _answer(send, 404, "text/plain", f"no console file {path}\n".encode())
            else:
                await _answer(send, 200, found[0], found[1], *SECURITY_HEADERS)
        elif path == "/readyz":
            app = self.registry.app
            why = app.readiness() if app is not None else None
            body = json.dumps({"ready": why is None, "reason": why}).encode()
            await _answer(send, 200 if why is None else 503, "application/json", body)
        else:
            text = generate_latest(self.metrics)
            await _answer(send, 200, "text/plain; version=0.0.4; charset=utf-8", text)

    async def _allowed(self, scope: Scope) -> bool:
        """With users configured, Basic credentials of a user with the management role,
        checked by the server's gatekeeper (its delays after failures included)."""
        gate = self.registry.gate
        if gate.policy.users is None:
            return True
        headers = dict(scope["headers"])
        value = headers.get(b"authorization", b"")
        if not value.lower().startswith(b"basic "):
            return False
        key = hashlib.sha256(value).digest()
        now = time.monotonic()
        known = self._verified.get(key)
        if known is not None and known[0] > now:
            scope["user"] = known[1]
            return True
        try:
            login, _, passcode = base64.b64decode(value[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client = scope.get("client") or ("", 0)
        credentials = Credentials(login, passcode, {}, None, None, client[0])
        outcome = await gate.authenticate(credentials, f"http:{client[0]}:{client[1]}", None)
        if isinstance(outcome, Refusal):
            return False
        identity = outcome[1]
        if identity is None or MANAGEMENT_ROLE not in identity.roles:
            return False
        user = scope["user"] = ConsoleUser(identity.name, identity.roles)  # /ws's identity
        if len(self._verified) >= _VERIFIED_LIMIT:
            self._verified.clear()
        self._verified[key] = (now + VERIFIED_FOR, user)
        return True


async def _answer(
    send: Send, status: int, content_type: str, body: bytes, *extra: tuple[bytes, bytes]
) -> None:
    headers = [(b"content-type", content_type.encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ManagementListener:
    """uvicorn serving :class:`Management` on a socket of ours (so that a port in use is
    an error we log, not uvicorn's exit of the whole process), without its signal
    handling (``stompbox serve`` has its own)."""

    def __init__(self, registry: SessionRegistry, sock: socket.socket) -> None:
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.app = Management(registry)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            ws="websockets-sansio",
            ws_max_size=(registry.config.limits.max_frame_size or 1 << 26) + 1024,
        )
        self.server = _Server(config)
        self.task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[sock]))

    async def close(self) -> None:
        """Stop serving, and the console's feed and the rate sampler with it."""
        self.server.should_exit = True
        self.app.feed.close()
        await self.app.admin.sampler.close()


async def start_management(server: TcpServer) -> ManagementListener | None:
    """The management listener on ``host:http_port``, or None (logged) if that port
    cannot be had: the broker goes on without health and metrics."""
    config = server.config
    try:
        sock = socket.create_server((config.host, config.http_port), reuse_port=False)
    except OSError as exc:
        log.error(
            "management listener: cannot listen on %s:%d (%s); /healthz, /readyz and "
            "/metrics are off (--http-port moves it, 0 turns it off)",
            config.host,
            config.http_port,
            exc.strerror or exc,
        )
        return None
    listener = ManagementListener(server.registry, sock)
    port = sock.getsockname()[1]
    log.info(
        "management on http://%s:%d (the console at /, /api/, /healthz, /readyz, /metrics)",
        config.host,
        port,
    )
    return listener
