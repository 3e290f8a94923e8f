"""One STOMP connection to an external broker, relaying frames both ways.

Frames handed to :meth:`RelayConnection.send` before the connection is up wait in order
and go out once the broker has answered CONNECTED; what the broker sends comes back
through ``on_frame``. The protocol is the same sans-IO :class:`ClientConnection` the
client uses; this module adds only the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from stompbox.net import BrokerURL, set_keepalive
from stompbox.protocol import ClientConnection, ConnectionClosed, Frame, ProtocolError

__all__ = ["RelayConnection"]

log = logging.getLogger("stompbox.relay")


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
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Connect in the background; frames sent meanwhile wait for CONNECTED."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, frame: Frame) -> None:
        if self._closed:
            return
        if self._writer is None:
            self._waiting.append(frame)
            return
        self.conn.send(frame)
        self._writer.write(self.conn.data_to_send())

    async def _run(self) -> None:
        url = self.url
        try:
            reader, writer = await asyncio.open_connection(url.host, url.port)
        except OSError as exc:
            self._lost(f"cannot reach the broker at {url.host}:{url.port}: {exc}")
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:  # no heart-beats on relay connections: let TCP find dead peers
            set_keepalive(sock, 60)
        conn = self.conn
        conn.connect(url.vhost, login=url.login, passcode=url.passcode)
        writer.write(conn.data_to_send())
        try:
            while not self._closed:
                data = await reader.read(1 << 16)
                conn.receive_data(data)
                for event in conn.events():
                    if isinstance(event, ConnectionClosed):
                        raise ConnectionError("the broker closed the connection")
                    if not isinstance(event, Frame):
                        continue
                    if event.command == "CONNECTED":
                        self._writer = writer
                        waiting, self._waiting = self._waiting, []
                        for frame in waiting:
                            self.send(frame)
                    else:
                        self._on_frame(event)
                if not data:
                    raise ConnectionError("the broker closed the connection")
        except (ConnectionError, OSError, ProtocolError) as exc:
            self._lost(str(exc))
        finally:
            writer.close()

    def _lost(self, reason: str) -> None:
        if not self._closed:
            self._closed = True
            log.warning("relay to %s:%d lost: %s", self.url.host, self.url.port, reason)
            self._on_lost(reason)

    async def close(self) -> None:
        """DISCONNECT if connected, then stop."""
        if self._closed:
            return
        if self._writer is not None and not self.conn.closed:
            with contextlib.suppress(Exception):
                self.conn.send(Frame("DISCONNECT"))
                self._writer.write(self.conn.data_to_send())
        self._closed = True
        if self._task is not None:
            self._task.cancel()
