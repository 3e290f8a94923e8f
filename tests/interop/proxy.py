"""A TCP proxy in front of a real broker, for what only the wire shows (heart-beats) and
for a broker address that dies mid-stream (failover)."""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    """Forwards 127.0.0.1:<port> to ``target``; records what clients sent."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.sent = bytearray()
        """Everything the proxied clients sent towards the broker."""
        self.received = bytearray()
        """Everything the broker sent back."""
        self.accepted = 0
        self.upstream: list[bytearray] = []
        """What each proxied connection sent, one buffer per connection."""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> Proxy:
        """Listen (again, on the same port after :meth:`cut`: the broker is back)."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"stomp://127.0.0.1:{self.port}/"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        mine = bytearray()
        self.upstream.append(mine)
        await asyncio.gather(
            self._pipe(reader, up_writer, self.sent, mine),
            self._pipe(up_reader, writer, self.received),
            return_exceptions=True,
        )

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *logs: bytearray,
    ) -> None:
        try:
            while data := await reader.read(65536):
                for log in logs:
                    log.extend(data)
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.close()

    async def cut(self) -> None:
        """Stop listening and drop every connection: the broker "dies" here."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            if writer.can_write_eof():
                with contextlib.suppress(OSError):
                    writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
