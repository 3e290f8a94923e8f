"""The relay's own connection to the broker (Spring's "system session"): opened at
start-up, reconnected forever, carrying what the application publishes and what the
instances tell each other; its state is the broker's availability."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
from collections.abc import Callable

from stompbox.net import BrokerURL
from stompbox.protocol import Frame

from .connection import RelayConnection, closed_by_operator
from .held import Held
from .settings import Addresses, RelaySettings

__all__ = ["RelayUnavailable", "SystemSession"]

log = logging.getLogger("stompbox.relay")


UNCONFIRMED_LIMIT = 10_000
"""SENDs awaiting the broker's receipt that the system session remembers; the oldest
beyond it is forgotten (a broker may refuse one with an ERROR that names no receipt)."""


class RelayUnavailable(Exception):
    """The relayed broker cannot take this now: it is away, and nothing more may wait."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(f"{message}: {detail}")
        self.message = message
        self.detail = detail


def jittered(settings: RelaySettings) -> float:
    """The reconnect interval, times a random factor within 1 ± the jitter."""
    spread = settings.reconnect_jitter
    return settings.reconnect_interval * random.uniform(1 - spread, 1 + spread)


def worth_logging(attempt: int) -> bool:
    """Attempts 1, 2, 4, 8, ...: an outage of an hour logs a dozen lines, not 720."""
    return attempt & (attempt - 1) == 0


class SystemSession:
    """Connected whenever the broker can be reached; ``listeners`` hear each change."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.addresses = Addresses(settings)
        self.available = False
        self.away = False
        """The broker is known to be unreachable (an attempt failed, or it went), rather
        than not connected yet: what ``outage = "error"`` refuses frames for."""
        self.url: BrokerURL | None = None
        """The broker reached, while available."""
        self.listeners: list[Callable[[bool, str], None]] = []
        """Called with (available, why) on each change: the broker's URL, or the reason
        it went away."""
        self._conn: RelayConnection | None = None
        self._handlers: dict[str, tuple[str, Callable[[Frame], None]]] = {}
        self._ids = itertools.count(1)
        self._held = Held()
        self._unconfirmed: dict[str, Frame] = {}
        """SENDs written to the broker and not yet receipted, by receipt id: sent again
        if the connection is lost first, so that none is lost (at least once)."""
        self._receipts = itertools.count(1)
        self._runner: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._stopping = False

    # -- running -----------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is None:
            self._stopping = False
            self._changed = asyncio.Event()  # of this event loop
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        self._set_available(False, "the relay stopped")

    async def wait_available(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the broker; whether it is there."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.available and loop.time() < deadline:
            self._changed.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._changed.wait()
            except TimeoutError:
                break
        return self.available

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            conn = RelayConnection(
                self.settings,
                self.addresses,
                on_frame=self._frame,
                on_connected=self._connected,
                on_lost=functools.partial(_settle, ended),
            )
            self._conn = conn
            conn.start()
            reason = await ended
            self._conn = None
            unconfirmed, self._unconfirmed = self._unconfirmed, {}
            self._held.put_back(unconfirmed.values())
            if self.available:
                log.warning("relay: lost the broker at %s: %s", self._where(), reason)
                self._set_available(False, reason)
                attempt = 0
                continue  # at once: an ERROR ends a STOMP connection, not the broker
            attempt += 1
            self.away = True
            wait = jittered(self.settings)
            if worth_logging(attempt):
                log.warning(
                    "relay: no broker reachable (attempt %d): %s; retrying every %g s",
                    attempt,
                    reason,
                    self.settings.reconnect_interval,
                )
            await asyncio.sleep(wait)

    def _connected(self, url: BrokerURL) -> None:
        conn = self._conn
        assert conn is not None
        for sub_id, (destination, _) in self._handlers.items():
            conn.send(_subscribe(sub_id, destination))
        for frame in self._held.take():
            self._transmit(conn, frame)
        self.url = url
        self.away = False
        log.info("relay: system session connected to %s", self._where())
        self._set_available(True, f"{url.scheme}://{url.host}:{url.port}")

    def _set_available(self, available: bool, why: str) -> None:
        if available == self.available:
            return
        self.available = available
        if not available:
            self.url = None
        self._changed.set()
        for listener in list(self.listeners):
            try:
                listener(available, why)
            except Exception:
                log.exception("relay: an availability listener failed")

    def _where(self) -> str:
        url = self.url
        return f"{url.host}:{url.port}" if url is not None else self.settings.describe()

    # -- frames ------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """Relay ``frame`` now, or hold it while the broker is away (``outage = "hold"``,
        within ``outage_buffer``); raise :class:`RelayUnavailable` otherwise."""
        conn = self._conn
        if self.available and conn is not None and conn.connected:
            self._transmit(conn, frame)
            return
        settings = self.settings
        if settings.outage == "error" and self.away:
            raise RelayUnavailable("broker unavailable", self.outage_detail())
        if not self._held.add(frame, settings.outage_buffer):
            raise RelayUnavailable(
                "broker unavailable",
                f"{self.outage_detail()}; the {settings.outage_buffer}-byte outage buffer is full",
            )

    def _transmit(self, conn: RelayConnection, frame: Frame) -> None:
        receipt = f"system-r{next(self._receipts)}"
        unconfirmed = self._unconfirmed
        unconfirmed[receipt] = frame
        if len(unconfirmed) > UNCONFIRMED_LIMIT:  # refused with an ERROR naming no receipt
            del unconfirmed[next(iter(unconfirmed))]
        conn.send(Frame(frame.command, (*frame.headers, ("receipt", receipt)), frame.body))

    def subscribe(self, destination: str, handler: Callable[[Frame], None]) -> None:
        """Hear ``destination`` (made again on every reconnect)."""
        sub_id = f"system-{next(self._ids)}"
        self._handlers[sub_id] = (destination, handler)
        conn = self._conn
        if self.available and conn is not None:
            conn.send(_subscribe(sub_id, destination))

    def _frame(self, frame: Frame) -> None:
        if frame.command == "MESSAGE":
            entry = self._handlers.get(frame.get("subscription") or "")
            if entry is not None:
                try:
                    entry[1](frame)
                except Exception:
                    log.exception("relay: a handler of %s failed", entry[0])
        elif frame.command == "RECEIPT":
            self._unconfirmed.pop(frame.get("receipt-id") or "", None)
        elif frame.command == "ERROR":
            detail = frame.body.decode("utf-8", "replace").strip()
            if closed_by_operator(frame):  # the socket closes next: reconnect then
                log.warning("relay: the broker's operator closed the system session: %s", detail)
                return
            refused = self._unconfirmed.pop(frame.get("receipt-id") or "", None)
            where = f" to {refused.get('destination')}" if refused is not None else ""
            log.error(
                "relay: the broker refused a message%s (not sent again): %s %s",
                where,
                frame.get("message"),
                detail,
            )

    def outage_detail(self) -> str:
        """Why nothing can reach the broker now, for an ERROR's body."""
        return (
            f"the relayed broker ({self.settings.describe()}) is unreachable; "
            f"retrying every {self.settings.reconnect_interval:g} s"
        )


def _settle(future: asyncio.Future[str], reason: str) -> None:
    if not future.done():
        future.set_result(reason)


def _subscribe(sub_id: str, destination: str) -> Frame:
    return Frame("SUBSCRIBE", (("destination", destination), ("id", sub_id), ("ack", "auto")))
