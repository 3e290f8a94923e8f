"""One STOMP connection to an external broker, relaying frames both ways.

:meth:`RelayConnection.start` tries each broker of the settings once (failover order),
with CONNECT's login, virtual host and heart-beats; ``on_connected`` says which one
answered, ``on_frame`` gets what it sends, ``on_lost`` says why it ended (or why none
answered). Reconnecting is the owner's business (:mod:`.system`, :mod:`.session`): a
connection is made once. The stream is the client's (:func:`open_stream`: ``stomp``,
``stomps``, ``ws``, ``wss``) and the protocol the same sans-IO :class:`ClientConnection`
the client drives; this module only pumps bytes and keeps the heart-beat clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from stompbox.client.clock import tick_when_due
from stompbox.client.transport import Stream, open_stream
from stompbox.net import BrokerURL
from stompbox.protocol import ClientConnection, ConnectionClosed, Frame, ProtocolError

from .settings import Addresses, RelaySettings

__all__ = ["RelayConnection", "closed_by_operator"]

log = logging.getLogger("stompbox.relay")

KEEPALIVE_IDLE = 60
"""Seconds of silence before TCP probes the broker, for connections without heart-beats."""
MAX_FRAME_SIZE = 1 << 26
CONNECT_TIMEOUT = 10.0
"""Seconds for one broker to accept the connection and answer CONNECT."""
BACKLOG_POLL = 0.005
"""Seconds between looks at a backlogged client's output."""
CLOSE_TIMEOUT = 5.0
"""How long :meth:`RelayConnection.close` waits for the DISCONNECT to be written."""


def closed_by_operator(frame: Frame) -> bool:
    """Whether a broker's ERROR says that its operator closed the connection (RabbitMQ's
    ``rabbitmqctl close_connection``, the management UI, a node put in maintenance: AMQP's
    320 CONNECTION_FORCED in the body) rather than that it refuses a frame: an outage of
    that connection, to reconnect after, not the client's fault."""
    return b"server_initiated_close,320" in frame.body and frame.get("receipt-id") is None


class Refused(Exception):
    """The broker answered CONNECT with an ERROR."""


class RelayConnection:
    """A connection to the external broker for one client session (or the system's)."""

    def __init__(
        self,
        settings: RelaySettings,
        addresses: Addresses,
        *,
        on_frame: Callable[[Frame], None],
        on_connected: Callable[[BrokerURL], None],
        on_lost: Callable[[str], None],
        client: bool = False,
        version: str | None = None,
        login: tuple[str | None, str | None] | None = None,
        backlogged: Callable[[], bool] | None = None,
        on_written: Callable[[RelayConnection], None] | None = None,
    ) -> None:
        self.settings = settings
        self.addresses = addresses
        self.client = client
        self.versions = (version,) if version else ("1.0", "1.1", "1.2")
        self.heartbeat = settings.client_heartbeat if client else settings.heartbeat
        self.login = login
        """A client's own (login, passcode), relayed instead of the configured ones."""
        self.backlogged = backlogged
        """While true, nothing more is read from the broker (a slow client's relay)."""
        self.on_written = on_written
        """Called after each write the broker took."""
        self.url: BrokerURL | None = None
        """The broker that answered CONNECTED."""
        self.refused = False
        """Every broker answered, and refused the CONNECT (its login, say)."""
        self.conn: ClientConnection | None = None
        self._on_frame = on_frame
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._output = asyncio.Event()  # the protocol holds bytes for the writer
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._closing = False

    @property
    def connected(self) -> bool:
        return self.url is not None and not self._closed

    @property
    def subscribes_to_temp_queues(self) -> bool:
        """Whether a ``/temp-queue/`` reaches this connection only once it subscribes to
        it (ActiveMQ), rather than through the SEND whose ``reply-to`` names it (RabbitMQ,
        stompbox)."""
        server = self.conn.server if self.conn is not None else None
        return server is not None and server.startswith("ActiveMQ")

    @property
    def buffered(self) -> int:
        """Bytes queued for the broker and not written yet."""
        return self.conn.buffered if self.conn is not None else 0

    def start(self) -> None:
        """Connect in the background: to the first broker that answers."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, frame: Frame) -> None:
        """Relay ``frame``; only once connected (the owner holds frames until then)."""
        conn = self.conn
        if self._closed or conn is None or self.url is None:
            raise RuntimeError("relay connection is not connected")
        conn.send(frame)
        self._output.set()

    async def _run(self) -> None:
        failures = []
        refusals = 0
        for url in self.addresses.attempt():
            if self._closed:
                return
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    stream, conn = await self._open(url)
            except TimeoutError:
                failures.append(f"{url.host}:{url.port}: no CONNECTED within {CONNECT_TIMEOUT} s")
            except Refused as exc:
                refusals += 1
                failures.append(f"{url.host}:{url.port}: {exc}")
            except Exception as exc:  # OSError, TLS, websockets' handshake errors
                failures.append(f"{url.host}:{url.port}: {exc}")
            else:
                await self._pump(url, stream, conn)
                return
        self.refused = refusals == len(failures)
        self._lost("; ".join(failures))

    async def _open(self, url: BrokerURL) -> tuple[Stream, ClientConnection]:
        """Open the stream and have CONNECT answered; raise with the reason otherwise."""
        stream = await open_stream(url, None, MAX_FRAME_SIZE, keepalive=KEEPALIVE_IDLE)
        try:
            conn = ClientConnection(versions=self.versions, heartbeat=self.heartbeat)
            login, passcode = self.login or self.settings.credentials(url, self.client)
            conn.connect(self.settings.vhost(url), login=login, passcode=passcode)
            loop = asyncio.get_running_loop()
            await stream.write(conn.data_to_send(loop.time()))
            while conn.version is None:
                data = await stream.read()
                conn.receive_data(data, loop.time())
                for event in conn.events():
                    if isinstance(event, Frame) and event.command == "ERROR":
                        detail = event.body.decode("utf-8", "replace").strip()
                        message = event.get("message") or "ERROR"
                        if detail:
                            message += f" ({detail})"
                        raise Refused(f"broker refused CONNECT: {message}")
                    if isinstance(event, ConnectionClosed):
                        raise ConnectionError("the broker closed the connection during CONNECT")
                if not data and conn.version is None:
                    raise ConnectionError("the broker closed the connection during CONNECT")
        except BaseException:
            with contextlib.suppress(Exception):
                await stream.close()
            raise
        return stream, conn

    async def _pump(self, url: BrokerURL, stream: Stream, conn: ClientConnection) -> None:
        self.conn = conn
        self.url = url
        self._writer = writer = asyncio.create_task(self._write_loop(stream, conn))
        clock = asyncio.create_task(self._clock(conn))
        try:
            self._on_connected(url)
            await self._read_loop(stream, conn)
        except (ConnectionError, OSError, ProtocolError) as exc:
            self._lost(str(exc) or type(exc).__name__)
        finally:
            clock.cancel()
            if not self._closing:  # close() lets the writer flush its DISCONNECT
                writer.cancel()
            with contextlib.suppress(Exception):
                await stream.close()

    async def _read_loop(self, stream: Stream, conn: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        on_frame = self._on_frame
        backlogged = self.backlogged
        while not self._closed:
            while backlogged is not None and backlogged():
                await asyncio.sleep(BACKLOG_POLL)  # TCP pushes back on the broker meanwhile
            data = await stream.read()
            conn.receive_data(data, loop.time())
            for event in conn.events():
                if type(event) is Frame:
                    on_frame(event)
                elif isinstance(event, ConnectionClosed):
                    raise ConnectionError("the broker closed the connection")
            if not data:
                raise ConnectionError("the broker closed the connection")

    async def _clock(self, conn: ClientConnection) -> None:
        """Heart-beats: queue ours when due, and end a connection the broker left silent."""
        while True:
            timeout = await tick_when_due(conn)
            if timeout is not None:
                self._lost(f"no heart-beat from the broker for {timeout.silent_for:.1f} s")
                if self._task is not None:
                    self._task.cancel()
                return
            self._output.set()

    async def _write_loop(self, stream: Stream, conn: ClientConnection) -> None:
        """The one way out: whatever the protocol has queued, in order, one write a turn.
        Ends after the write that follows :meth:`close`."""
        loop = asyncio.get_running_loop()
        while True:
            await self._output.wait()
            self._output.clear()
            chunks = conn.take_output(loop.time())
            if chunks:
                try:
                    await stream.writelines(chunks)  # a large body is not joined: no copy
                except Exception as exc:  # OSError, or websockets' ConnectionClosed
                    self._lost(f"write failed: {exc}")
                    with contextlib.suppress(Exception):
                        await stream.close()  # the reader sees the end and stops
                    return
                if self.on_written is not None:
                    self.on_written(self)
            if self._closed:
                return

    def _lost(self, reason: str) -> None:
        if not self._closed:
            self._closed = True
            self._on_lost(reason)

    async def close(self) -> None:
        """DISCONNECT if connected (and not already), then stop."""
        if self._closed:
            return
        self._closed = self._closing = True
        writer, conn = self._writer, self.conn
        if writer is not None and not writer.done() and conn is not None:
            if not conn.closed:
                with contextlib.suppress(ProtocolError):
                    conn.send(Frame("DISCONNECT"))
            self._output.set()  # the writer flushes what is queued, then ends
            await asyncio.wait([writer], timeout=CLOSE_TIMEOUT)
            writer.cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=CLOSE_TIMEOUT)
