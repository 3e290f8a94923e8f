"""Running the server until a signal: what ``stompbox serve`` does."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator

from stompbox.broker import Broker
from stompbox.net import is_loopback

from .config import ServerConfig
from .management import start_management
from .registry import SessionRegistry
from .session import Application
from .sweep import sweep_expired
from .tcp import TcpServer
from .tls import reload, server_context
from .trim import MemoryTrimmer
from .websocket import serve_websocket

__all__ = ["run", "serve", "start_server"]

log = logging.getLogger("stompbox.server")


@contextlib.asynccontextmanager
async def start_server(
    config: ServerConfig | None = None,
    broker: Broker | None = None,
    app: Application | None = None,
    *,
    registry: SessionRegistry | None = None,
) -> AsyncIterator[TcpServer]:
    """Run TCP (and WebSocket, unless ``ws_port`` is 0) listeners inside ``async with``;
    they stop cleanly on exit. ``registry`` (an application's, say) replaces the first
    three arguments. With ``tls_cert`` set, STOMP over TLS listens on ``tls_port`` too
    (unless it is 0) and the WebSocket listener serves WSS, both with one context
    (``server.tls``); a bad certificate file raises :class:`ConfigError` here."""
    owned = broker is None and registry is None
    config = registry.config if registry is not None else config or ServerConfig()
    tls = server_context(config)  # first: a bad certificate file leaves nothing to close
    if registry is None:
        registry = SessionRegistry(broker or Broker(config.broker), config, app)
    server = TcpServer(registry.broker, config, registry=registry, tls=tls)
    app = registry.app
    if app is not None:
        await app.start()
    try:
        await server.start()
    except BaseException:
        if app is not None:
            await app.stop()
        raise
    websocket = None
    trimmer = asyncio.create_task(MemoryTrimmer(registry.broker).run())
    sweeper = asyncio.create_task(sweep_expired(registry.broker))
    try:
        if config.ws_port:
            websocket = await serve_websocket(registry, tls=tls)
            server.ws_port = int(next(iter(websocket.sockets)).getsockname()[1])
        yield server
    finally:
        trimmer.cancel()
        sweeper.cancel()
        if websocket is not None:
            websocket.close()  # stop listening; registry.shutdown() closes its sessions
        await server.stop()
        if websocket is not None:
            await websocket.wait_closed()
        if app is not None:
            await app.stop()
        if owned:
            server.broker.close()


def stats_line(server: TcpServer) -> str:
    """One line of what the broker did so far (Spring's ``WebSocketMessageBrokerStats``)."""
    broker = server.registry.broker
    stats = broker.stats
    return (
        f"stats: {len(server.registry.sessions)} connection(s), {len(broker.sessions)} "
        f"session(s); published {stats.published}, delivered {stats.delivered}, "
        f"redelivered {stats.redelivered}, dead-lettered {stats.dead_lettered}, dropped "
        f"for slow consumers {stats.dropped_slow_consumer}, producers paused "
        f"{stats.producers_paused}; {broker.memory.describe()}"
    )


async def _log_stats(server: TcpServer, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        log.info("%s", stats_line(server))


async def serve(
    config: ServerConfig,
    broker: Broker | None = None,
    app: Application | None = None,
    *,
    stats_interval: float = 0.0,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop accepting, drain and close. SIGHUP
    reloads the TLS certificate for new connections; open ones are not touched."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with start_server(config, broker, app) as server:
        tls = server.tls
        if tls is not None:
            loop.add_signal_handler(signal.SIGHUP, reload, tls, server.config)
        if server.port:
            log.info(
                "stompbox listening on %s:%d (STOMP 1.0, 1.1, 1.2 over TCP)",
                config.host,
                server.port,
            )
        else:
            log.info("plain STOMP over TCP is off (tcp = false)")
        if server.tls_port:
            log.info("stompbox listening on %s:%d (STOMP over TLS)", config.host, server.tls_port)
        if config.ws_port:
            log.info(
                "stompbox listening on %s://%s:%d%s (STOMP over WebSocket)",
                "ws" if tls is None else "wss",
                config.host,
                server.ws_port,
                config.ws_path,
            )
        policy = server.registry.gate.policy
        log.info("%s", policy.describe())
        if not is_loopback(config.host) and policy.anonymous and policy.acl is None:
            log.warning(
                "listening on %s with no authentication and no access rules: anyone who "
                "can reach it may use every destination (docs/security.md)",
                config.host,
            )
        stats = asyncio.create_task(_log_stats(server, stats_interval)) if stats_interval else None
        management = await start_management(server) if config.http_port else None
        await stop.wait()
        if stats is not None:
            stats.cancel()
        if management is not None:
            await management.close()
        log.info("%s", stats_line(server))
        log.info("stopping: %d connection(s) open", len(server.connections))
    log.info("stopped")


def run(
    config: ServerConfig,
    broker: Broker | None = None,
    app: Application | None = None,
    *,
    stats_interval: float = 0.0,
) -> None:
    """Run :func:`serve` on uvloop when it is installed, else on asyncio's own loop.

    The cyclic garbage collector runs less often than Python's default (every 50,000 net
    allocations of containers rather than 700): a broker allocates a few tuples per frame
    and keeps queue backlogs of them, none in cycles, and at the default the collector
    took 11% of a queue benchmark's time (py-spy). Reference counting still frees every
    frame at once; what sits in cycles waits a little longer.
    """
    gc.set_threshold(50_000, 20, 20)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(config, broker, app, stats_interval=stats_interval))
    else:
        uvloop.run(serve(config, broker, app, stats_interval=stats_interval))
