"""A small asyncio SockJS 0.3.3 client over the xhr-streaming transport, for the benchmarks.

Receiving: ``POST <prefix>/<server>/<session>/xhr_streaming`` answers a chunked response
that carries the prelude (2048 ``h`` and a newline), ``o``, then ``a["m1","m2"]`` message
arrays, ``h`` heart-beats and at last ``c[code,"reason"]``, one frame a line. The server
ends the response after 128 KiB and the client asks again (on the same connection when it
is kept alive); messages wait in the session meanwhile. Sending: ``POST .../xhr_send`` with
a JSON array of strings, answered 204. As sockjs-client's ``BufferedSender`` does, every
message queued while a POST is in flight goes in the next POST.

Two HTTP implementations behind one interface: :class:`RawSession` speaks HTTP/1.1 itself
(an :class:`asyncio.Protocol` de-chunks the streaming response, streams carry the POSTs),
:class:`HttpxSession` uses httpx. The benchmark uses the raw one because the load must cost
less than the broker: with httpx (h11 parsing in Python, an async iterator per read) the
100 receiving sessions of topic 1->100 took 93% of a core where the raw ones take 40%, on
a 2-core machine where the broker needs the other, and the producer of queue 1->1 became
the limit (20,000 deliveries/s, the broker 70% busy, against 28,000 with the raw client).
``benchmarks/sockjs.py --client httpx`` measures it again.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["HttpxSession", "RawSession", "SockJSError", "SockJSSession"]

_A, _C, _H, _O = b"a"[0], b"c"[0], b"h"[0], b"o"[0]


class SockJSError(ConnectionError):
    """The server answered something a SockJS client cannot go on with; the message holds
    the request and the response (status, and the start of the body)."""


class SockJSSession:
    """One SockJS session; subclasses supply the HTTP.

    Received messages go to :attr:`on_messages` (one call per ``a`` frame); by default they
    are kept as text for :meth:`read_frame`, which is what the STOMP handshake needs."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.prefix = url.path.rstrip("/")
        self.path = f"{self.prefix}/{random.randrange(1000):03d}/{uuid.uuid4().hex}"
        self.on_messages: Callable[[list[str]], None] = self._keep
        self.closed: tuple[int, str] | None = None
        """The code and reason of the ``c`` frame, or of what ended the session here."""
        self.error: BaseException | None = None
        self.posts = 0
        """xhr_send requests made (their count tells how well messages were batched)."""
        self._inbox = ""
        self._arrived = asyncio.Event()
        self._opened = asyncio.Event()
        self._partial = bytearray()
        self._queue: list[str] = []
        self._progress = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

    async def connect(self, timeout: float = 10.0) -> None:
        """``GET <prefix>/info`` as sockjs-client does, then open the receiving request and
        wait for the ``o`` frame."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def _post(self, body: bytes) -> None:
        """One ``xhr_send`` with this body; raise :class:`SockJSError` unless 2xx."""
        raise NotImplementedError

    def send(self, message: str) -> None:
        """Queue ``message``; it leaves in the next POST (at once when none is in flight)."""
        if self.error is not None:
            raise self.error
        self._queue.append(json.dumps(message))
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def drained(self, below: int = 0) -> None:
        """Wait until fewer than ``below`` messages wait for a POST; with 0, until every
        POST has been answered."""
        while True:
            if self.error is not None:
                raise self.error
            if below == 0 and not self._queue and self._sender is None:
                return
            if below and len(self._queue) < below:
                return
            self._progress.clear()
            await self._progress.wait()

    async def read_frame(self, timeout: float = 30.0) -> str:
        """The next STOMP frame (up to its NUL) of the kept messages."""
        while "\0" not in self._inbox:
            if self.error is not None:
                raise self.error
            if self.closed is not None:
                raise SockJSError(f"{self.path}: session closed {self.closed}")
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), timeout)
        frame, _, self._inbox = self._inbox.partition("\0")
        return frame.lstrip("\r\n")

    def _keep(self, messages: list[str]) -> None:
        self._inbox += "".join(messages)
        self._arrived.set()

    async def _send_queued(self) -> None:
        try:
            while self._queue:
                body = ("[" + ",".join(self._queue) + "]").encode()
                self._queue = []
                self._progress.set()
                self.posts += 1
                await self._post(body)
        except Exception as exc:
            self._fail(exc)
        finally:
            self._sender = None
            self._progress.set()

    def _feed(self, data: bytes) -> None:
        """Bytes of the receiving response's body: complete lines are frames."""
        partial = self._partial
        partial += data
        end = partial.rfind(b"\n")
        if end < 0:
            return
        lines = bytes(partial[:end]).split(b"\n")
        del partial[: end + 1]
        for line in lines:
            if not line:
                continue
            kind = line[0]
            if kind == _A:
                self.on_messages(json.loads(line[1:]))
            elif kind == _H:
                continue  # heart-beat, or the prelude
            elif kind == _O:
                self._opened.set()
            elif kind == _C:
                code, reason = json.loads(line[1:])
                self._end((code, reason))
            else:
                self._fail(SockJSError(f"{self.path}/xhr_streaming: unknown frame {line[:80]!r}"))

    def _end(self, closed: tuple[int, str]) -> None:
        if self.closed is None:
            self.closed = closed
        self._opened.set()
        self._arrived.set()
        self._progress.set()

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._end((0, str(exc)))

    async def _wait_open(self, timeout: float) -> None:
        await asyncio.wait_for(self._opened.wait(), timeout)
        if self.error is not None:
            raise self.error
        if self.closed is not None:
            raise SockJSError(f"{self.path}/xhr_streaming: closed at once {self.closed}")


def _head(data: bytes) -> tuple[int, dict[bytes, bytes]]:
    lines = data.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    """Status, headers and body of one HTTP/1.1 response (Content-Length or chunked)."""
    status, headers = _head((await reader.readuntil(b"\r\n\r\n"))[:-4])
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")
        body = b"".join(parts)
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()
    return status, headers, body


class _StreamingResponse(asyncio.Protocol):
    """The receiving connection: POSTs xhr_streaming, de-chunks what comes back into
    :meth:`SockJSSession._feed`, and asks again when a response ends."""

    def __init__(self, session: RawSession) -> None:
        self.session = session
        self.request = (
            f"POST {session.path}/xhr_streaming HTTP/1.1\r\nHost: {session.host}:"
            f"{session.port}\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.in_head = True
        self.chunked = False
        self.keep_alive = True
        self.responses = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status, headers = _head(bytes(self.buffer[:end]))
            data = bytes(self.buffer[end + 4 :])
            self.buffer.clear()
            if status != 200:
                self.session._fail(
                    SockJSError(
                        f"POST {self.session.path}/xhr_streaming: {status} "
                        f"{headers!r} {data[:200]!r}"
                    )
                )
                self._close()
                return
            self.in_head = False
            self.responses += 1
            self.chunked = headers.get(b"transfer-encoding", b"").lower() == b"chunked"
            self.keep_alive = headers.get(b"connection", b"").lower() != b"close"
        if not self.chunked:
            self.session._feed(data)  # the body runs to the end of the connection
            return
        buffer = self.buffer
        buffer += data
        pos = 0
        parts = []
        ended = False
        while (end := buffer.find(b"\r\n", pos)) >= 0:
            size = int(buffer[pos:end].split(b";")[0], 16)
            stop = end + 2 + size
            if len(buffer) < stop + 2:
                break
            pos = stop + 2
            if not size:
                ended = True
                break
            parts.append(buffer[end + 2 : stop])
        if parts:
            self.session._feed(b"".join(parts))
        del buffer[:pos]
        if ended:
            self._response_ended()

    def _response_ended(self) -> None:
        """The server ended a response (its 128 KiB are spent): ask for the next one."""
        self.in_head = True
        if self.session.closed is not None:
            self._close()
        elif self.keep_alive and self.transport is not None:
            leftover = bytes(self.buffer)
            self.buffer.clear()
            self.transport.write(self.request)
            if leftover:
                self.data_received(leftover)
        else:
            self._close()
            self.session._reopen()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None and self.session.closed is None:
            self.transport = None
            if self.in_head and not self.buffer:
                self.session._reopen()  # closed between responses
            else:
                self.session._fail(
                    SockJSError(f"{self.session.path}/xhr_streaming: connection lost ({exc})")
                )


class RawSession(SockJSSession):
    """HTTP/1.1 spoken here: one connection receives, one keep-alive connection POSTs."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self._streams: list[_StreamingResponse] = []
        self._link: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._reopening: asyncio.Task[None] | None = None

    async def connect(self, timeout: float = 10.0) -> None:
        reader, writer = await self._connection()
        writer.write(
            f"GET {self.prefix}/info HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode()
        )
        status, _, body = await _read_response(reader)
        if status != 200:
            raise SockJSError(f"GET {self.prefix}/info: {status} {body[:200]!r}")
        await self._open_stream()
        await self._wait_open(timeout)

    async def _open_stream(self) -> None:
        loop = asyncio.get_running_loop()
        _, stream = await loop.create_connection(
            lambda: _StreamingResponse(self), self.host, self.port
        )
        self._streams.append(stream)

    def _reopen(self) -> None:
        async def reopen() -> None:
            try:
                await self._open_stream()
            except OSError as exc:
                self._fail(exc)

        self._reopening = asyncio.get_running_loop().create_task(reopen())

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._link is None:
            self._link = await asyncio.open_connection(self.host, self.port)
        return self._link

    async def _post(self, body: bytes) -> None:
        reader, writer = await self._connection()
        writer.write(
            (
                f"POST {self.path}/xhr_send HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        try:
            status, headers, answer = await _read_response(reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise SockJSError(f"POST {self.path}/xhr_send: no answer ({exc!r})") from None
        if not 200 <= status < 300:
            raise SockJSError(f"POST {self.path}/xhr_send: {status} {answer[:200]!r}")
        if headers.get(b"connection", b"").lower() == b"close":
            writer.close()
            self._link = None

    async def close(self) -> None:
        self._end((3000, "client closed"))
        for stream in self._streams:
            stream._close()
        if self._sender is not None:
            self._sender.cancel()
        if self._link is not None:
            self._link[1].close()
            self._link = None


class HttpxSession(SockJSSession):
    """The same over httpx (``httpx.AsyncClient``, HTTP/1.1)."""

    def __init__(self, base_url: str) -> None:
        import httpx

        super().__init__(base_url)
        self._client = httpx.AsyncClient(
            base_url=f"http://{self.host}:{self.port}", timeout=httpx.Timeout(30.0, read=None)
        )
        self._receiving: asyncio.Task[None] | None = None

    async def connect(self, timeout: float = 10.0) -> None:
        response = await self._client.get(f"{self.prefix}/info")
        if response.status_code != 200:
            raise SockJSError(f"GET {self.prefix}/info: {response.status_code} {response.text}")
        self._receiving = asyncio.get_running_loop().create_task(self._receive())
        await self._wait_open(timeout)

    async def _receive(self) -> None:
        url = f"{self.path}/xhr_streaming"
        try:
            while self.closed is None:
                async with self._client.stream("POST", url) as response:
                    if response.status_code != 200:
                        body = await response.aread()
                        raise SockJSError(f"POST {url}: {response.status_code} {body[:200]!r}")
                    async for chunk in response.aiter_raw():
                        self._feed(chunk)
        except Exception as exc:
            if self.closed is None:
                self._fail(exc)

    async def _post(self, body: bytes) -> None:
        response = await self._client.post(
            f"{self.path}/xhr_send",
            content=body,
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
        if not 200 <= response.status_code < 300:
            raise SockJSError(
                f"POST {self.path}/xhr_send: {response.status_code} {response.content[:200]!r}"
            )

    async def close(self) -> None:
        self._end((3000, "client closed"))
        for task in (self._receiving, self._sender):
            if task is not None:
                task.cancel()
        await self._client.aclose()


def session_class(name: str) -> type[SockJSSession]:
    """:class:`RawSession` for ``raw``, :class:`HttpxSession` for ``httpx``."""
    return {"raw": RawSession, "httpx": HttpxSession}[name]
