"""An application's relay: its system session (opened when the app starts), each
session's own connection to the broker, the broker's availability as app events, and the
user registry it shares with the other instances relaying to the same broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from stompbox.protocol import Frame
from stompbox.relay import ClientRelay, RelayPeer, RelaySettings, SystemSession
from stompbox.relay.frames import to_broker
from stompbox.relay.users import LocalUsers, RemoteUsers, encode_registry
from stompbox.server.session import ServerSession

from .api import BrokerAvailability
from .hooks import Hooks

__all__ = ["Relaying"]

log = logging.getLogger("stompbox.app")

REGISTRY_DEBOUNCE = 0.05
"""Seconds a registry change waits for others before the instance publishes it."""
ORIGIN = "stompbox-origin"
"""The header naming the instance a broadcast user message came from."""


class Relaying:
    """Everything of one application that talks to the relayed broker."""

    def __init__(self, settings: RelaySettings, hooks: Hooks) -> None:
        self.settings = settings
        self.hooks = hooks
        self.system = SystemSession(settings)
        self.instance = secrets.token_hex(8)
        """This process's name in the shared user registry."""
        self.remote = RemoteUsers(self.instance)
        self.local_users: Callable[[], LocalUsers] = dict
        """This instance's part of the registry (set by the user destinations)."""
        self.on_broadcast: Callable[[Frame], None] = lambda frame: None
        """A user message another instance could not resolve (set by the user destinations)."""
        self._clients: dict[ServerSession, ClientRelay] = {}
        self._holders = 0
        self._publisher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.system.listeners.append(self._availability)
        self.system.subscribe(settings.user_registry, self._registry_message)
        self.system.subscribe(settings.user_broadcast, self._broadcast_message)

    # -- running -----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the system session (on the first of several starts)."""
        self._holders += 1
        if self._holders == 1:
            self._open()

    def _open(self) -> None:
        log.info("relay: connecting to %s", self.settings.describe())
        self._changed = asyncio.Event()  # of this event loop
        self._changed.set()  # the first registry goes out once connected
        self.system.start()
        self._publisher = asyncio.get_running_loop().create_task(self._publish_registry())

    async def stop(self) -> None:
        """Close every relay connection (on the last stop)."""
        self._holders = max(self._holders - 1, 0)
        if self._holders:
            return
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
            self._publisher = None
        if self.system.available:  # tell the others to forget this instance now
            self._send_registry({}, 0.0)
        clients, self._clients = self._clients, {}
        await asyncio.gather(*(c.close() for c in clients.values()), return_exceptions=True)
        await self.system.stop()

    @property
    def running(self) -> bool:
        return self._holders > 0

    def _availability(self, available: bool, why: str) -> None:
        kind = "broker_available" if available else "broker_unavailable"
        self.hooks.announce(kind, BrokerAvailability(available, why))
        if available:
            self._changed.set()  # the others may have forgotten this instance

    # -- frames ------------------------------------------------------------------------

    def _started(self) -> None:
        """Started on first use when nothing started it (an ASGI app mounted where no
        lifespan reaches it): it then runs until the process ends."""
        if self._holders == 0:
            log.warning(
                "relay: started on first use; start the app (app.running() in the "
                "lifespan) to open the system session at start-up"
            )
            self._holders = 1
            self._open()

    def publish(self, frame: Frame) -> None:
        """A message of the application's, through the system session."""
        self._started()
        self.system.send(to_broker(frame))

    def open(
        self, session: ServerSession, peer: RelayPeer, login: tuple[str | None, str | None] | None
    ) -> None:
        self._started()
        config = session.broker.config
        self._clients[session] = ClientRelay(
            self.system,
            peer,
            session.conn.version,
            login,
            max_subscriptions=config.max_subscriptions,
            max_transactions=config.max_transactions,
            max_transaction_frames=config.max_transaction_frames,
            max_temp_queues=config.max_temp_queues_per_session,
        )

    def client(self, session: ServerSession) -> ClientRelay | None:
        return self._clients.get(session)

    def close(self, session: ServerSession, spawn: Callable[[Awaitable[object]], None]) -> None:
        relay = self._clients.pop(session, None)
        if relay is not None:
            spawn(relay.close())

    # -- the user registry -------------------------------------------------------------

    def users_changed(self) -> None:
        self._changed.set()

    async def _publish_registry(self) -> None:
        """This instance's users: on each change (a little later, with what followed it)
        and every ``registry_interval`` seconds."""
        interval = self.settings.registry_interval
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that comes as the event is set, and this loop would never end
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._changed.wait()
                await asyncio.sleep(REGISTRY_DEBOUNCE)
            self._changed.clear()
            if self.system.available:
                self._send_registry(self.local_users(), 3 * interval)

    def _send_registry(self, users: LocalUsers, ttl: float) -> None:
        body = encode_registry(self.instance, users, ttl)
        headers = (("destination", self.settings.user_registry),)
        with contextlib.suppress(Exception):  # an outage: the next interval sends it
            self.system.send(Frame("SEND", (*headers, ("content-type", "application/json")), body))

    def _registry_message(self, frame: Frame) -> None:
        self.remote.update(frame.body, time.monotonic())

    def _broadcast_message(self, frame: Frame) -> None:
        if frame.get(ORIGIN) != self.instance:
            self.on_broadcast(frame)

    def remote_sessions(self, user: str, destination: str) -> list[str]:
        return self.remote.sessions(user, destination, time.monotonic())

    def known_elsewhere(self, user: str) -> bool:
        return self.remote.knows(user, time.monotonic())

    def broadcast(self, frame: Frame) -> None:
        """A user message for a user no instance is known to hold: to every instance."""
        headers = (("destination", self.settings.user_broadcast), (ORIGIN, self.instance))
        self.publish(Frame("SEND", headers + frame.headers, frame.body))
