"""The asyncio STOMP client, on the same sans-IO core as the server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from stompbox.net import BrokerURL, parse_url
from stompbox.protocol import (
    ClientConnection,
    ConnectionClosed,
    Frame,
    Limits,
    ProtocolError,
)

from .clock import tick_when_due
from .errors import BrokerErrorFrame, ConnectFailed, ConnectionLost, StompError
from .handles import ClientLink, Message, Subscription, Transaction
from .requests import REPLY_QUEUE, PendingRequests
from .transport import Stream, open_stream

__all__ = ["Client", "connect"]

log = logging.getLogger("stompbox.client")

HeaderArg = Mapping[str, str] | None


class Client:
    """A connection to a STOMP broker. Use :func:`connect` to make one.

    Heart-beats are negotiated and kept by a background task; a broker silent past them
    counts as dead, and whatever waits on the connection gets :class:`ConnectionLost`.
    With ``reconnect=True`` the client reconnects after any loss (an ERROR frame included)
    with exponential back-off and re-subscribes; only what was in flight fails.
    """

    def __init__(
        self,
        url: str,
        *,
        login: str | None = None,
        passcode: str | None = None,
        ssl: ssl_module.SSLContext | None = None,
        heartbeat: tuple[int, int] = (10_000, 10_000),
        reconnect: bool = False,
        backoff: tuple[float, float] = (0.1, 10.0),
        connect_timeout: float = 10.0,
        limits: Limits | None = None,
        max_queue: int = 1_000,
        headers: HeaderArg = None,
        versions: tuple[str, ...] = ("1.0", "1.1", "1.2"),
        stream_factory: Callable[[], Awaitable[Stream]] | None = None,
    ) -> None:
        self.url: BrokerURL = parse_url(url)
        self.login = login if login is not None else self.url.login
        self.passcode = passcode if passcode is not None else self.url.passcode
        self.ssl = ssl
        self.heartbeat = heartbeat
        self.reconnect = reconnect
        self.backoff = backoff
        self.connect_timeout = connect_timeout
        self.limits = limits or Limits()
        self.max_queue = max_queue
        self.connect_headers = dict(headers or {})
        self.versions = versions
        self._stream_factory = stream_factory
        self.version: str | None = None
        self.server: str | None = None
        self.session: str | None = None
        self._conn: ClientConnection | None = None
        self._stream: Stream | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._receipts: dict[str, asyncio.Future[None]] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._ids = itertools.count(1)
        self._generation = 0
        self._connected = asyncio.Event()
        self._closing = False  # close() began: no reconnecting
        self._closed = False  # DISCONNECT done: no more frames
        self._error: BaseException | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._shutdown_task: asyncio.Task[None] | None = None
        self._link: ClientLink = _HandleLink(self)
        self._requests = PendingRequests(self._link)

    # -- life cycle --------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and wait for CONNECTED; raises :class:`ConnectFailed`."""
        try:
            await asyncio.wait_for(self._open(), self.connect_timeout)
        except TimeoutError:
            raise ConnectFailed(
                f"no CONNECTED from {self.url.host}:{self.url.port} within {self.connect_timeout} s"
            ) from None

    async def _open(self) -> None:
        url = self.url
        try:
            if self._stream_factory is not None:
                stream = await self._stream_factory()
            else:
                stream = await open_stream(url, self.ssl, self.limits.max_frame_size or 1 << 26)
        except (OSError, ssl_module.SSLError) as exc:
            raise ConnectFailed(f"cannot reach {url.host}:{url.port}: {exc}") from exc
        except Exception as exc:  # websockets' handshake errors
            raise ConnectFailed(
                f"WebSocket handshake with {url.host}:{url.port} failed: {exc}"
            ) from exc
        conn = ClientConnection(
            versions=self.versions, heartbeat=self.heartbeat, limits=self.limits
        )
        conn.connect(
            url.vhost,
            login=self.login,
            passcode=self.passcode,
            headers=tuple(self.connect_headers.items()),
        )
        loop = asyncio.get_running_loop()
        await stream.write(conn.data_to_send(loop.time()))
        while conn.version is None:
            data = await stream.read()
            conn.receive_data(data, loop.time())
            try:
                for event in conn.events():
                    if isinstance(event, Frame) and event.command == "ERROR":
                        error = BrokerErrorFrame(event)
                        raise ConnectFailed(f"broker refused CONNECT: {error}", event)
                    if isinstance(event, ConnectionClosed):
                        raise ConnectFailed("broker closed the connection during CONNECT")
            except ProtocolError as exc:
                await stream.close()
                raise ConnectFailed(f"bad answer to CONNECT: {exc}") from exc
            except ConnectFailed:
                await stream.close()
                raise
            if not data and conn.version is None:
                await stream.close()
                raise ConnectFailed("broker closed the connection during CONNECT")
        self._conn = conn
        self._stream = stream
        self.version = conn.version
        self.server = conn.server
        self.session = conn.session
        self._generation += 1
        self._error = None
        self._tasks = [
            asyncio.create_task(self._read_loop(conn, stream)),
            asyncio.create_task(self._heartbeat_loop(conn, stream)),
        ]
        self._connected.set()

    async def close(self) -> None:
        """DISCONNECT (waiting for its receipt), then close the stream."""
        if self._closing:
            return
        self._closing = True
        if self._reconnector is not None:
            self._reconnector.cancel()
        if self._conn is not None and self._connected.is_set():
            with contextlib.suppress(StompError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self._request(Frame("DISCONNECT"), receipt=True), 5)
        self._closed = True
        await self._shutdown(ConnectionLost("the client closed the connection"), final=True)

    async def _shutdown(self, error: BaseException, *, final: bool) -> None:
        """Stop the tasks and the stream; fail receipts; with ``final``, end subscriptions
        (cleanly when the client itself is closing)."""
        # Every state change happens before the first await, so that a reconnection
        # running meanwhile never sees (or loses) this connection's leftovers.
        self._connected.clear()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._tasks = []
        stream, self._stream = self._stream, None
        receipts, self._receipts = self._receipts, {}
        for future in receipts.values():
            if not future.done():
                future.set_exception(error)
        self._requests.fail(error)
        if final:
            end = StopAsyncIteration() if self._closing else error
            for sub in self._subscriptions.values():
                sub.finish(end)
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.close()

    def _lost(self, error: BaseException) -> None:
        """The connection died under us: fail waiters, then reconnect or give up."""
        if self._closing or self._error is not None:
            return
        self._error = error
        self._connected.clear()
        final = not self.reconnect
        log.warning("connection to %s:%d lost: %s", self.url.host, self.url.port, error)
        self._shutdown_task = asyncio.create_task(self._shutdown(error, final=final))
        if not final:
            self._reconnector = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay, ceiling = self.backoff
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self.open()
            except ConnectFailed as exc:
                log.info("reconnect failed: %s; next try in %.1f s", exc, min(delay * 2, ceiling))
                delay = min(delay * 2, ceiling)
                continue
            for sub in list(self._subscriptions.values()):
                await self._write(sub.subscribe_frame())
            log.info("reconnected to %s:%d", self.url.host, self.url.port)
            return

    # -- background tasks --------------------------------------------------------------

    async def _read_loop(self, conn: ClientConnection, stream: Stream) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await stream.read()
                conn.receive_data(data, loop.time())
                for event in conn.events():
                    if isinstance(event, Frame):
                        await self._dispatch(event)
                    elif isinstance(event, ConnectionClosed):
                        raise ConnectionLost("the broker closed the connection")
                if not data:
                    raise ConnectionLost("the broker closed the connection")
        except asyncio.CancelledError:
            raise
        except ProtocolError as exc:
            self._lost(ConnectionLost(f"protocol error from the broker: {exc}"))
        except StompError as exc:
            self._lost(exc)

    async def _dispatch(self, frame: Frame) -> None:
        command = frame.command
        if command == "MESSAGE":
            sub = self._subscriptions.get(
                frame.get("subscription") or frame.get("destination") or ""
            )
            if sub is not None and sub.active:
                await sub.deliver(Message(frame, sub, self._generation))
            elif self._requests.take(frame, self._generation):
                pass  # a reply to request()
            else:
                log.debug("MESSAGE for unknown subscription %s", frame.get("subscription"))
        elif command == "RECEIPT":
            future = self._receipts.pop(frame.get("receipt-id") or "", None)
            if future is not None and not future.done():
                future.set_result(None)
        elif command == "ERROR":
            error = BrokerErrorFrame(frame)
            receipt = frame.get("receipt-id")
            if receipt is not None:
                future = self._receipts.pop(receipt, None)
                if future is not None and not future.done():
                    future.set_exception(error)
            raise error

    async def _heartbeat_loop(self, conn: ClientConnection, stream: Stream) -> None:
        loop = asyncio.get_running_loop()
        while True:
            timeout = await tick_when_due(conn)
            if timeout is not None:
                self._lost(
                    ConnectionLost(f"no heart-beat from the broker for {timeout.silent_for:.1f} s")
                )
                return
            data = conn.data_to_send(loop.time())
            if data:
                try:
                    await stream.write(data)
                except (ConnectionError, OSError):
                    self._lost(ConnectionLost("writing a heart-beat failed"))
                    return

    # -- frames ------------------------------------------------------------------------

    async def _ready(self) -> tuple[ClientConnection, Stream]:
        if self._closed:
            raise ConnectionLost("the client is closed")
        if not self._connected.is_set():
            if not self.reconnect or self._error is None:
                raise self._error or ConnectionLost("not connected")
            await self._connected.wait()
        assert self._conn is not None and self._stream is not None
        return self._conn, self._stream

    async def _write(self, frame: Frame) -> None:
        conn, stream = await self._ready()
        if conn.closed:  # an ERROR arrived; the read loop is reporting it
            raise self._error or ConnectionLost("the broker closed the connection")
        conn.send(frame)
        try:
            await stream.write(conn.data_to_send(asyncio.get_running_loop().time()))
        except (ConnectionError, OSError) as exc:
            lost = ConnectionLost(f"write failed: {exc}")
            self._lost(lost)
            raise lost from exc

    async def _request(self, frame: Frame, *, receipt: bool) -> None:
        """Send ``frame``; with ``receipt``, wait until the broker confirms it."""
        if not receipt:
            await self._write(frame)
            return
        receipt_id = f"r-{next(self._ids)}"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._receipts[receipt_id] = future
        try:
            await self._write(frame._replace(headers=(*frame.headers, ("receipt", receipt_id))))
            await future
        finally:
            self._receipts.pop(receipt_id, None)

    # -- public operations -------------------------------------------------------------

    async def send(
        self,
        destination: str,
        body: Any = b"",
        *,
        headers: HeaderArg = None,
        content_type: str | None = None,
        receipt: bool = False,
        transaction: Transaction | None = None,
    ) -> None:
        """Send a message. ``body`` may be bytes, str (UTF-8) or a JSON-serialisable value.

        With ``receipt=True`` this returns once the broker has taken the message, and
        raises :class:`BrokerErrorFrame` if it refused it.
        """
        data, default_type = encode_body(body)
        out: list[tuple[str, str]] = [("destination", destination)]
        content_type = content_type or default_type
        if content_type:
            out.append(("content-type", content_type))
        if transaction is not None:
            out.append(("transaction", transaction.id))
        if headers:
            out.extend(headers.items())
        await self._request(Frame("SEND", tuple(out), data), receipt=receipt)

    async def request(
        self,
        destination: str,
        body: Any = b"",
        *,
        timeout: float = 30.0,
        headers: HeaderArg = None,
        content_type: str | None = None,
    ) -> Message:
        """Send a request and return its reply (RPC, as RabbitMQ's temporary queues do it).

        The message goes with ``reply-to`` naming this client's temporary queue and a
        new ``correlation-id``; the reply is the first message with that id on it
        (a stompbox app handler's return value, or whatever a responder sends to the
        ``reply-to`` it received, copying ``correlation-id``). Raises
        :class:`TimeoutError` naming the destination if none comes within ``timeout``
        seconds (a reply later than that is dropped), and :class:`ConnectionLost` if
        the connection goes first: its temporary queue goes with it.
        """
        if headers and {"reply-to", "correlation-id"} & set(headers):
            raise ValueError("request() sets reply-to and correlation-id itself")
        correlation, reply = self._requests.open()
        out = {**(headers or {}), "reply-to": REPLY_QUEUE, "correlation-id": correlation}
        try:
            async with asyncio.timeout(timeout):
                await self.send(destination, body, headers=out, content_type=content_type)
                return await reply
        except TimeoutError:
            raise TimeoutError(
                f"no reply to the request sent to {destination} within {timeout:g} s"
            ) from None
        finally:
            self._requests.close(correlation)

    def subscribe(
        self,
        destination: str,
        *,
        ack: str = "auto",
        headers: HeaderArg = None,
        id: str | None = None,
    ) -> Subscription:
        """A subscription to enter with ``async with``; it unsubscribes on exit."""
        if ack not in ("auto", "client", "client-individual"):
            raise ValueError(f"ack must be auto, client or client-individual, not {ack!r}")
        sub_id = id if id is not None else f"sub-{next(self._ids)}"
        return Subscription(
            self._link, sub_id, destination, ack, dict(headers or {}), self.max_queue
        )

    async def _subscribe(self, sub: Subscription) -> None:
        if sub.id in self._subscriptions:
            raise ValueError(f"subscription id {sub.id!r} is already active")
        self._subscriptions[sub.id] = sub
        sub.active = True
        try:
            await self._request(sub.subscribe_frame(), receipt=True)
        except BaseException:
            sub.active = False
            self._subscriptions.pop(sub.id, None)
            raise

    async def _unsubscribe(self, sub: Subscription) -> None:
        if self._subscriptions.pop(sub.id, None) is None:
            return
        sub.active = False
        if self._connected.is_set() and not self._closing:
            with contextlib.suppress(StompError, OSError):
                await self._write(Frame("UNSUBSCRIBE", (("id", sub.id),)))

    def transaction(self) -> Transaction:
        """``async with client.transaction() as tx``: COMMIT on success, ABORT on error."""
        return Transaction(self._link, f"tx-{next(self._ids)}")

    async def _settle(
        self, command: str, message: Message, transaction: Transaction | None
    ) -> None:
        if message.generation != self._generation:
            raise ConnectionLost(
                "this message came on a connection that was lost; the broker redelivers it"
            )
        frame = message.frame
        headers: list[tuple[str, str]]
        if self.version == "1.2":
            headers = [("id", frame.get("ack") or "")]
        elif self.version == "1.1":
            headers = [
                ("message-id", message.message_id),
                ("subscription", message.subscription.id),
            ]
        else:
            headers = [("message-id", message.message_id)]
        if transaction is not None:
            headers.append(("transaction", transaction.id))
        await self._write(Frame(command, tuple(headers)))


class _HandleLink:
    """The client as its handles see it (:class:`ClientLink`), keeping what they may do
    out of the client's public API."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    async def send(self, destination: str, body: Any = b"", **kwargs: Any) -> None:
        await self._client.send(destination, body, **kwargs)

    async def request(self, frame: Frame, *, receipt: bool) -> None:
        await self._client._request(frame, receipt=receipt)

    async def settle(self, command: str, message: Message, transaction: Transaction | None) -> None:
        await self._client._settle(command, message, transaction)

    async def add_subscription(self, subscription: Subscription) -> None:
        await self._client._subscribe(subscription)

    async def remove_subscription(self, subscription: Subscription) -> None:
        await self._client._unsubscribe(subscription)


def encode_body(body: Any) -> tuple[bytes, str | None]:
    """Bytes go as they are; text as UTF-8; anything else as JSON."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), None
    if isinstance(body, str):
        return body.encode(), "text/plain;charset=utf-8"
    try:
        return json.dumps(body, separators=(",", ":")).encode(), "application/json"
    except TypeError as exc:
        raise TypeError(f"cannot send a {type(body).__name__}: {exc}") from None


def connect(url: str = "stomp://localhost:61613", **options: Any) -> Client:
    """``async with stompbox.connect("stomp://guest:guest@localhost:61613/") as client``.

    Options are :class:`Client`'s: ``login``, ``passcode``, ``ssl``, ``heartbeat``,
    ``reconnect``, ``backoff``, ``connect_timeout``, ``limits``, ``max_queue``, ``headers``,
    ``versions``.
    """
    return Client(url, **options)
