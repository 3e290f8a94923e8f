"""A client session's own connection to the relayed broker, kept through outages.

Each stompbox client gets one connection to the broker (its subscriptions, acks and
transactions are the broker's, as in Spring's relay). When that connection drops, the
client stays connected to stompbox: its subscriptions are made again once the broker is
back, what it sends meanwhile waits within ``outage_buffer`` (or is refused with an
ERROR, ``outage = "error"``), and acknowledgements of messages the old connection
delivered are answered here (the broker redelivers those messages anyway). A transaction
the old connection held is lost with it: its COMMIT gets an ERROR, never a receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from stompbox.net import BrokerURL
from stompbox.protocol import Frame

from .connection import RelayConnection, closed_by_operator
from .held import Held
from .settings import Addresses
from .system import RelayUnavailable, SystemSession

__all__ = ["NOTICE_PREFIX", "ClientRelay", "RelayPeer"]

log = logging.getLogger("stompbox.relay")

NOTICE_PREFIX = "stompbox-notice-"
"""Message ids of stompbox's own notices to a client (the broker went or came back):
acknowledged here, since the broker never sent them."""
STALE_LIMIT = 10_000
"""Acknowledgement ids and transactions of lost connections remembered per client."""
DISCONNECT_TIMEOUT = 5.0
"""Seconds to wait for the broker's receipt of a client's DISCONNECT."""
CLOSE_WAIT = 10.0
"""How long a departed client's frames wait for its broker connection to come up."""
SPREAD = 1.0
"""Clients reconnect at random within this many seconds of the broker coming back."""
_HOLDS_IN_ERROR_MODE = frozenset({"SUBSCRIBE", "UNSUBSCRIBE"})
TEMP_QUEUE = "/temp-queue/"
_IN_TRANSACTION = frozenset({"SEND", "ACK", "NACK"})


@dataclass(slots=True)
class RelayPeer:
    """What a client relay needs of its stompbox session."""

    deliver: Callable[[Frame], None]
    """A frame from the broker for the client (MESSAGE, RECEIPT)."""
    fail: Callable[[str, str], None]
    """Send the client an ERROR and close it."""
    receipt: Callable[[Frame], None]
    """Answer ``frame``'s receipt here (the broker no longer knows what it refers to)."""
    disconnected: Callable[[Frame], None]
    """The broker answered the client's DISCONNECT: answer it and close."""
    notify: Callable[[bool, str], None]
    """The broker went away (False) or is back (True) for this client."""
    backlogged: Callable[[], bool]
    """The client is behind on its output: read no more from the broker until it is not."""
    pause: Callable[[], None]
    """The broker is behind on this client's frames: read no more from the client..."""
    resume: Callable[[], None]
    """...until it has caught up."""


class ClientRelay:
    """One client's relay connection, remade whenever the broker comes back."""

    def __init__(
        self,
        system: SystemSession,
        peer: RelayPeer,
        version: str | None,
        login: tuple[str | None, str | None] | None = None,
        *,
        max_subscriptions: int = 1_024,
        max_transactions: int = 16,
        max_transaction_frames: int = 10_000,
        max_temp_queues: int = 100,
    ) -> None:
        self.system = system
        self.max_subscriptions = max_subscriptions
        """Subscriptions this client may hold on the broker (the embedded broker's limit
        of the same name: each may be a queue there)."""
        self.max_transactions = max_transactions
        """Transactions this client may hold open on the broker, which buffers them."""
        self.max_transaction_frames = max_transaction_frames
        """Frames one of them may hold."""
        self.max_temp_queues = max_temp_queues
        """Distinct ``/temp-queue/`` names this client may give as ``reply-to`` (each is
        a queue on the broker)."""
        self.settings = system.settings
        self.peer = peer
        self.version = version
        self.login = login
        self._addresses = Addresses(self.settings)
        self._conn: RelayConnection | None = None
        self._active: dict[str, Frame] = {}
        """Subscriptions the broker has (or had, on the lost connection): made again."""
        self._auto: set[str] = set()
        self._unacked: dict[str, None] = {}
        self._transactions: set[str] = set()
        self._stale_acks: dict[str, None] = {}
        self._stale_transactions: dict[str, None] = {}
        self._held = Held()
        self._reply_queues: set[str] = set()
        """The ``/temp-queue/`` names this client gave as ``reply-to``."""
        self._subscribed: set[str] = set()
        """The client's subscription ids, relayed or held."""
        self._begun: dict[str, int] = {}
        """The client's open transactions, relayed or held, and how many frames each
        holds; those a lost connection held are gone with it."""
        self._awaiting: dict[str, Frame] = {}
        """Relayed frames whose receipt the broker has not sent yet, by receipt id."""
        self._paused = False
        self._disconnect: Frame | None = None
        self._up: asyncio.Event | None = None
        """Set once connected, for a close that waits to deliver what is held."""
        self._timer: asyncio.TimerHandle | None = None
        self._told_away = False
        self._closed = False
        system.listeners.append(self._availability)
        self._connect()

    @property
    def connected(self) -> bool:
        """Whether this client's own connection to the broker is up."""
        return self._conn is not None and self._conn.connected

    # -- the connection ----------------------------------------------------------------

    def _connect(self) -> None:
        if self._closed or self._conn is not None:
            return
        self._timer = None
        conn = RelayConnection(
            self.settings,
            self._addresses,
            on_frame=self._frame,
            on_connected=lambda url: self._connected(conn, url),
            on_lost=lambda reason: self._lost(conn, reason),
            client=True,
            version=self.version,
            login=self.login,
            backlogged=self.peer.backlogged,
            on_written=self._written,
        )
        self._conn = conn
        conn.start()

    def _connected(self, conn: RelayConnection, url: BrokerURL) -> None:
        for frame in self._active.values():
            conn.send(frame)
        for frame in self._held.take():
            self._relay(conn, frame)
        if self._up is not None:
            self._up.set()
        if self._told_away:
            self._told_away = False
            self.peer.notify(True, f"{url.scheme}://{url.host}:{url.port}")

    def _lost(self, conn: RelayConnection, reason: str) -> None:
        if self._conn is not conn:
            return
        self._conn = None
        if self._closed:
            return
        if self._disconnect is not None:  # the broker went first: answer it here
            self.peer.disconnected(self._disconnect)
            return
        if conn.refused and self.system.available:  # this client's login, not an outage
            self._closed = True
            self.peer.fail("relay login refused", reason)
            return
        _remember(self._stale_acks, self._unacked)
        _remember(self._stale_transactions, dict.fromkeys(self._transactions))
        for tx_id in self._transactions:
            self._begun.pop(tx_id, None)
        self._unacked.clear()
        self._transactions.clear()
        self._send_again()
        if self._closed:
            return
        if self._paused:
            self._paused = False
            self.peer.resume()
        if not self._told_away:
            self._told_away = True
            self.peer.notify(False, reason)
        if self.system.available:  # this connection only: try again shortly
            self._schedule(self.settings.reconnect_interval)

    def _send_again(self) -> None:
        """What the lost connection took without confirming it, made good: SENDs are sent
        again (at least once: the broker may have had them), SUBSCRIBEs made again with
        their receipts, acks and UNSUBSCRIBEs answered here (the new connection has neither
        those messages nor that subscription); a transaction frame whose outcome is
        unknown is an ERROR."""
        again: list[Frame] = []
        for frame in self._awaiting.values():
            command = frame.command
            transaction = frame.get("transaction")
            if command in ("ACK", "NACK", "UNSUBSCRIBE"):  # moot on a new connection
                self.peer.receipt(frame)
            elif command in ("BEGIN", "COMMIT", "ABORT"):
                self._closed = True
                self.peer.fail(
                    "transaction lost",
                    f"the broker went before it confirmed {command} of transaction "
                    f"{transaction!r}; its outcome is unknown",
                )
                return
            elif transaction is None or transaction not in self._stale_transactions:
                if command == "SUBSCRIBE":
                    self._active.pop(frame.get("id") or frame.get("destination") or "", None)
                again.append(frame)
        self._awaiting.clear()
        self._held.put_back(again)

    def _written(self, conn: RelayConnection) -> None:
        """The broker took a write: read the client again once it has caught up."""
        if self._paused and conn.buffered < self.settings.outage_buffer // 2:
            self._paused = False
            self.peer.resume()

    def _availability(self, available: bool, why: str) -> None:
        if available and self._conn is None:
            self._schedule(SPREAD)

    def _schedule(self, within: float) -> None:
        if self._timer is None and not self._closed:
            delay = random.uniform(0, within)
            self._timer = asyncio.get_running_loop().call_later(delay, self._connect)

    async def close(self) -> None:
        """The client went: DISCONNECT from the broker, and forget everything.

        Frames it sent while its broker connection was still being made wait for that
        connection first (within CLOSE_WAIT): a client that sends and leaves at once
        must not lose what it sent. In an outage they are dropped, as the client's
        missing receipts tell it."""
        conn = self._conn
        if self._held and conn is not None and not conn.connected and not self.system.away:
            self._up = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT):
                    await self._up.wait()
        self._closed = True
        if self._availability in self.system.listeners:
            self.system.listeners.remove(self._availability)
        if self._timer is not None:
            self._timer.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    # -- frames from the client --------------------------------------------------------

    def send(self, frame: Frame) -> bool:
        """Relay a client frame (or hold it through an outage); False for a DISCONNECT
        that the session should answer itself. Raises :class:`RelayUnavailable`."""
        command = frame.command
        if command in ("ACK", "NACK"):
            token = frame.get("id") or frame.get("message-id") or ""
            conn = self._conn
            if (
                token in self._stale_acks
                or token.startswith(NOTICE_PREFIX)
                or conn is None
                or not conn.connected
            ):
                # delivered by a lost connection: the broker redelivers the message
                self._stale_acks.pop(token, None)
                self.peer.receipt(frame)
                return True
        elif command == "SEND":
            self._count_reply_queue(frame.get("reply-to"))
        else:
            self._count(command, frame)
        transaction = frame.get("transaction")
        if transaction is not None and command in _IN_TRANSACTION:
            self._count_in_transaction(transaction)
        if transaction is not None and transaction in self._stale_transactions:
            raise RelayUnavailable(
                "transaction lost",
                f"transaction {transaction!r} was open on a relay connection that the "
                "broker lost; nothing of it was committed",
            )
        conn = self._conn
        if command == "DISCONNECT":
            if self._held and frame.get("receipt") is not None and not self.system.away:
                # behind frames waiting for this connection: the broker's receipt answers
                # once it has them all
                self._disconnect = frame
                self._held.add(frame)
                loop = asyncio.get_running_loop()
                loop.call_later(CLOSE_WAIT + DISCONNECT_TIMEOUT, self._disconnect_late)
                return True
            if conn is None or not conn.connected or frame.get("receipt") is None:
                return False
            self._disconnect = frame
            conn.send(frame)
            asyncio.get_running_loop().call_later(DISCONNECT_TIMEOUT, self._disconnect_late)
            return True
        if conn is not None and conn.connected:
            self._relay(conn, frame)
            return True
        self._hold(frame)
        return True

    def _count(self, command: str, frame: Frame) -> None:
        """Keep the client's subscriptions and open transactions (relayed or held) within
        :attr:`max_subscriptions` and :attr:`max_transactions`."""
        if command == "SUBSCRIBE" or command == "UNSUBSCRIBE":
            sub_id = frame.get("id") or frame.get("destination") or ""
            subscribed = self._subscribed
            if command == "UNSUBSCRIBE":
                subscribed.discard(sub_id)
            elif sub_id not in subscribed:
                if len(subscribed) >= self.max_subscriptions:
                    raise RelayUnavailable(
                        f"max_subscriptions limit of {self.max_subscriptions} exceeded",
                        "unsubscribe before subscribing again",
                    )
                subscribed.add(sub_id)
        elif command == "BEGIN" or command == "COMMIT" or command == "ABORT":
            tx_id = frame.get("transaction") or ""
            begun = self._begun
            if command != "BEGIN":
                begun.pop(tx_id, None)
            elif tx_id not in begun:
                if len(begun) >= self.max_transactions:
                    raise RelayUnavailable(
                        f"max_transactions limit of {self.max_transactions} exceeded",
                        "commit or abort a transaction before beginning another",
                    )
                begun[tx_id] = 0

    def _count_in_transaction(self, tx_id: str) -> None:
        """One more frame in transaction ``tx_id``, within :attr:`max_transaction_frames`
        (the broker holds them until COMMIT)."""
        held = self._begun.get(tx_id)
        if held is None:
            return  # not open: the broker answers that
        if held >= self.max_transaction_frames:
            raise RelayUnavailable(
                f"max_transaction_frames limit of {self.max_transaction_frames} exceeded",
                f"transaction {tx_id!r} holds {held} frames; commit it, or send fewer",
            )
        self._begun[tx_id] = held + 1

    def _count_reply_queue(self, reply_to: str | None) -> None:
        """Refuse a ``reply-to`` that would make one temporary queue more than
        :attr:`max_temp_queues` on the broker for this client."""
        if reply_to is None or not reply_to.startswith(TEMP_QUEUE):
            return
        names = self._reply_queues
        if reply_to not in names:
            if len(names) >= self.max_temp_queues:
                raise RelayUnavailable(
                    f"max_temp_queues_per_session limit of {self.max_temp_queues} exceeded",
                    f"this connection has named {len(names)} temporary queues in reply-to "
                    "already; reuse one (replies are told apart by correlation-id)",
                )
            names.add(reply_to)

    def _relay(self, conn: RelayConnection, frame: Frame) -> None:
        command = frame.command
        if command == "SEND" and conn.subscribes_to_temp_queues:
            reply_to = frame.get("reply-to")
            if reply_to is not None and reply_to.startswith(TEMP_QUEUE):
                self._subscribe_to_reply_queue(conn, reply_to)
        if command == "SUBSCRIBE":
            sub_id = frame.get("id") or frame.get("destination") or ""
            self._active[sub_id] = Frame(
                "SUBSCRIBE", tuple(h for h in frame.headers if h[0] != "receipt")
            )
            if (frame.get("ack") or "auto") == "auto":
                self._auto.add(sub_id)
            else:
                self._auto.discard(sub_id)
        elif command == "UNSUBSCRIBE":
            sub_id = frame.get("id") or frame.get("destination") or ""
            self._active.pop(sub_id, None)
            self._auto.discard(sub_id)
        elif command in ("ACK", "NACK"):
            self._unacked.pop(frame.get("id") or frame.get("message-id") or "", None)
        elif command == "BEGIN":
            self._transactions.add(frame.get("transaction") or "")
        elif command in ("COMMIT", "ABORT"):
            self._transactions.discard(frame.get("transaction") or "")
        receipt = frame.get("receipt")
        if receipt is not None:
            self._awaiting[receipt] = frame
        conn.send(frame)
        if not self._paused and conn.buffered > self.settings.outage_buffer:
            self._paused = True
            self.peer.pause()

    def _subscribe_to_reply_queue(self, conn: RelayConnection, reply_to: str) -> None:
        """Subscribe to ``reply_to`` with the id ``reply_to``, as RabbitMQ and stompbox do
        for a SEND that names a ``/temp-queue/`` in ``reply-to``, unless the client
        subscribed to it itself: so that ``client.request`` (and any client written for
        either) gets its replies through a relay to ActiveMQ too. Made again with the
        client's own subscriptions after a reconnection."""
        if any(active.get("destination") == reply_to for active in self._active.values()):
            return
        headers = (("destination", reply_to), ("id", reply_to), ("ack", "auto"))
        self._relay(conn, Frame("SUBSCRIBE", headers))

    def _hold(self, frame: Frame) -> None:
        settings = self.settings
        away = self.system.away  # rather than this connection still connecting
        if away and settings.outage == "error" and frame.command not in _HOLDS_IN_ERROR_MODE:
            raise RelayUnavailable("broker unavailable", self.system.outage_detail())
        if self._held.add(frame, settings.outage_buffer):
            return
        if away:
            raise RelayUnavailable(
                "broker unavailable",
                f"{self.system.outage_detail()}; this connection's {settings.outage_buffer}-byte "
                "outage buffer is full",
            )
        self._held.add(frame)  # still connecting: the client waits rather than being refused
        if not self._paused:
            self._paused = True
            self.peer.pause()

    # -- frames from the broker --------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        command = frame.command
        if command == "MESSAGE":
            subscription = frame.get("subscription") or ""
            if subscription not in self._auto:
                token = frame.get("ack") or frame.get("message-id")
                if token is not None:
                    self._unacked[token] = None
                    if len(self._unacked) > STALE_LIMIT:  # cumulative acks leave some
                        del self._unacked[next(iter(self._unacked))]
            self.peer.deliver(frame)
        elif command == "RECEIPT":
            self._awaiting.pop(frame.get("receipt-id") or "", None)
            disconnect = self._disconnect
            if disconnect is not None and frame.get("receipt-id") == disconnect.get("receipt"):
                self._disconnect = None
                self.peer.disconnected(disconnect)
            else:
                self.peer.deliver(frame)
        elif command == "ERROR":
            detail = frame.body.decode("utf-8", "replace")
            if closed_by_operator(frame):  # the socket closes next: reconnect then
                log.warning("relay: the broker's operator closed a client connection: %s", detail)
                return
            self._closed = True  # the broker ends the connection after an ERROR
            self.peer.fail(frame.get("message") or "broker error", detail)

    def _disconnect_late(self) -> None:
        disconnect, self._disconnect = self._disconnect, None
        if disconnect is not None and not self._closed:
            log.warning("relay: no receipt from the broker for a DISCONNECT; answering it here")
            self.peer.disconnected(disconnect)


def _remember(stale: dict[str, None], keys: dict[str, None]) -> None:
    """Add ``keys`` to ``stale``, keeping the newest :data:`STALE_LIMIT`."""
    stale.update(keys)
    while len(stale) > STALE_LIMIT:
        del stale[next(iter(stale))]
