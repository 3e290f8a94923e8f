"""One STOMP connection to an external broker, relaying frames both ways.

Frames handed to :meth:`RelayConnection.send` before the connection is up wait in order
and go out once the broker has answered CONNECTED; what the broker sends comes back
through ``on_frame``. The stream is the client's (:func:`~stompbox.client.transport.open_stream`,
so ``stomp``, ``stomps``, ``ws`` and ``wss`` all work) and the protocol is the same sans-IO
:class:`ClientConnection` the client drives; this module only pumps bytes between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from stompbox.client.transport import Stream, open_stream
from stompbox.net import BrokerURL
from stompbox.protocol import ClientConnection, ConnectionClosed, Frame, ProtocolError

__all__ = ["RelayConnection"]

log = logging.getLogger("stompbox.relay")

KEEPALIVE_IDLE = 60
"""Seconds of silence before TCP probes the broker: relay connections negotiate no
heart-beats, so this is how a dead broker is found."""

MAX_FRAME_SIZE = 1 << 26
CLOSE_TIMEOUT = 5.0
"""How long :meth:`RelayConnection.close` waits for the DISCONNECT to be written."""


class RelayConnection:
    """A connection to the external broker for one client session (or the system's)."""

    def __init__(
        self,
        url: BrokerURL,
        version: str | None,
        on_frame: Callable[[Frame], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self.url = url
        self.conn = ClientConnection(versions=(version,) if version else ("1.0", "1.1", "1.2"))
        self._on_frame = on_frame
        self._on_lost = on_lost
        self._waiting: list[Frame] = []
        self._connected = False  # CONNECTED arrived: frames go straight to the protocol
        self._output = asyncio.Event()  # the protocol holds bytes for the writer
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Connect in the background; frames sent meanwhile wait for CONNECTED."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, frame: Frame) -> None:
        if self._closed:
            return
        if not self._connected:
            self._waiting.append(frame)
            return
        self.conn.send(frame)
        self._output.set()

    async def _run(self) -> None:
        url = self.url
        try:
            stream = await open_stream(url, None, MAX_FRAME_SIZE, keepalive=KEEPALIVE_IDLE)
        except Exception as exc:  # OSError, TLS errors, websockets' handshake errors
            self._lost(f"cannot reach the broker at {url.host}:{url.port}: {exc}")
            return
        self.conn.connect(url.vhost, login=url.login, passcode=url.passcode)
        self._writer = writer = asyncio.create_task(self._write_loop(stream))
        self._output.set()
        try:
            await self._read_loop(stream)
        except (ConnectionError, OSError, ProtocolError) as exc:
            self._lost(str(exc))
        finally:
            writer.cancel()
            with contextlib.suppress(Exception):
                await stream.close()

    async def _read_loop(self, stream: Stream) -> None:
        conn = self.conn
        loop = asyncio.get_running_loop()
        while not self._closed:
            data = await stream.read()
            conn.receive_data(data, loop.time())
            for event in conn.events():
                if isinstance(event, ConnectionClosed):
                    raise ConnectionError("the broker closed the connection")
                if not isinstance(event, Frame):
                    continue
                if event.command == "CONNECTED":
                    self._connected = True
                    waiting, self._waiting = self._waiting, []
                    for frame in waiting:
                        self.send(frame)
                else:
                    self._on_frame(event)
            if not data:
                raise ConnectionError("the broker closed the connection")

    async def _write_loop(self, stream: Stream) -> None:
        """The one way out: whatever the protocol has queued, in order, one write a turn.
        Ends after the write that follows :meth:`close`."""
        loop = asyncio.get_running_loop()
        while True:
            await self._output.wait()
            self._output.clear()
            data = self.conn.data_to_send(loop.time())
            if data:
                try:
                    await stream.write(data)
                except Exception as exc:  # OSError, or websockets' ConnectionClosed
                    self._lost(f"write failed: {exc}")
                    with contextlib.suppress(Exception):
                        await stream.close()  # the reader sees the end and stops
                    return
            if self._closed:
                return

    def _lost(self, reason: str) -> None:
        if not self._closed:
            self._closed = True
            log.warning("relay to %s:%d lost: %s", self.url.host, self.url.port, reason)
            self._on_lost(reason)

    async def close(self) -> None:
        """DISCONNECT if connected, then stop."""
        if self._closed:
            return
        self._closed = True
        writer = self._writer
        if writer is not None and not writer.done():
            if self._connected and not self.conn.closed:
                with contextlib.suppress(ProtocolError):
                    self.conn.send(Frame("DISCONNECT"))
            self._output.set()  # the writer flushes what is queued, then ends
            await asyncio.wait([writer], timeout=CLOSE_TIMEOUT)
            writer.cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
