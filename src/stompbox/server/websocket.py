"""The WebSocket listener of ``stompbox serve``: STOMP over WebSocket at TCP's cost.

Each connection is one :class:`WebSocketProtocol`, an :class:`asyncio.Protocol` as TCP's
:class:`~stompbox.server.tcp.StompProtocol` is, driving the ``websockets`` library's
sans-IO protocol: bytes in with ``receive_data``, the handshake's answer, pongs and close
frames out with ``data_to_send``, and no task, queue or text decoding of its own. It is
its session's transport too: each batch of STOMP output (one ``writelines`` per
event-loop turn) goes out as one WebSocket message, text when the bytes are valid UTF-8
(browsers require it of text), binary otherwise. A message may hold one frame or many,
in both directions; flow control is TCP's own.

:class:`~stompbox.server.asgi.StompASGI` is the other front door, for ASGI servers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from websockets.frames import BINARY, CONT, TEXT, CloseCode, Frame
from websockets.http11 import Request
from websockets.protocol import OPEN, SERVER
from websockets.protocol import Protocol as WebSocketConnection
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from stompbox.net import choose_subprotocol, set_keepalive
from stompbox.security.origins import OriginPolicy

from .asgi import StompASGI
from .config import ServerConfig
from .handshake import HandshakeScope
from .registry import SessionRegistry
from .session import ServerSession

if TYPE_CHECKING:
    from .sockjs import SockJSListener
from .tls import client_certificate

__all__ = ["StompASGI", "WebSocketProtocol", "serve_websocket"]

log = logging.getLogger("stompbox.server")

_WEBSOCKETS_LOG = logging.getLogger("websockets.server")
_END_OF_HEAD = b"\r\n\r\n"


class WebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection of the listener, and the transport of its session.

    Until the upgrade a handshake :class:`~websockets.server.ServerProtocol` reads the
    HTTP request (and not a byte past it) and answers 101, 404 (another path), 503 (the
    server is full) or whatever else is wrong. The upgrade opens the session and swaps
    in a fresh protocol for the frames, so that nothing of the handshake outlives it but
    the ASGI-like scope the session keeps for authenticators.

    A WebSocket frame on its way is held by the protocol's reader: it is bounded as the
    STOMP frame it carries is, to ``connect_limits`` before CONNECT, charged to the
    memory budget, and given ``frame_timeout`` to arrive once begun.
    """

    __slots__ = (
        "_charged",
        "_closing",
        "_frame_began",
        "_frame_timer",
        "_head",
        "_registry",
        "_sockjs",
        "_tcp",
        "_timer",
        "_ws",
        "session",
    )

    _tcp: asyncio.Transport  # from connection_made on

    def __init__(self, registry: SessionRegistry, sockjs: SockJSListener | None = None) -> None:
        self._registry = registry
        self._sockjs = sockjs
        self._ws: WebSocketConnection = _handshake_protocol(registry.config)
        self._head: bytearray | None = bytearray()
        """The upgrade request as far as it came; None past the handshake."""
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        """True once no more WebSocket messages can be sent."""
        self.session: ServerSession | None = None
        self._charged = 0
        """Bytes of an unfinished WebSocket frame charged to the memory budget."""
        self._frame_began = 0.0
        self._frame_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol: what the TCP transport tells us ------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tcp = self._tcp = cast(asyncio.Transport, transport)
        config = self._registry.config
        sock = tcp.get_extra_info("socket")
        if sock is not None:
            set_keepalive(sock, config.keepalive_idle)
        tcp.set_write_buffer_limits(high=config.outbound_buffer)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(config.connect_timeout, tcp.close)  # no upgrade in time

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None:
            self._handshake(data)
            return
        if self._closing and self._charged:
            return  # closed mid-frame: its close frame would only come after the frame
        ws = self._ws
        had_partial = bool(ws.reader.buffer)
        ws.receive_data(data)
        events = ws.events_received()
        payloads = [
            event.data
            for event in events
            if isinstance(event, Frame) and event.opcode in _DATA_OPCODES
        ]
        if payloads:
            # the STOMP stream, whatever the message boundaries: one call, as TCP's read
            session.data_received(
                cast(bytes, payloads[0]) if len(payloads) == 1 else b"".join(payloads)
            )
        partial = len(ws.reader.buffer)
        if partial or self._charged:
            self._unfinished_frame(session, partial, started=bool(events) or not had_partial)
        self._send_pending()  # pongs; the answer to a close, or to a protocol error

    def eof_received(self) -> bool | None:
        self._ws.receive_eof()
        self._send_pending()
        return None

    def pause_writing(self) -> None:
        if self.session is not None:
            self.session.pause_writing()

    def resume_writing(self) -> None:
        if self.session is not None:
            self.session.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        if self._charged:
            self._registry.broker.memory.release(self._charged)
            self._charged = 0
        session, self.session = self.session, None
        if session is not None:
            session.connection_lost()

    # -- Transport: what the session asks of us -----------------------------------------

    def writelines(self, data: list[bytes]) -> None:
        """Send one loop turn's output as one message."""
        self.write(data[0] if len(data) == 1 else b"".join(data))

    def write(self, data: bytes) -> None:
        """Send ``data`` as one message: text if it is UTF-8, else binary.

        The frame is built here, not by the protocol's ``send_text``: a server's data
        frame is a 2 to 10 byte head and the payload as it is (RFC 6455, 5.2: unmasked;
        and no extension is negotiated), and the library's frame object, checks and
        copies cost more than the head itself, which shows when a loop turn's output
        is a frame or two (fan-out to many clients). Control frames stay the
        protocol's; none can be waiting here, since its output is written at once.
        """
        if self._closing:
            return
        text = data.isascii()
        if not text:
            try:
                data.decode()
                text = True
            except UnicodeDecodeError:
                pass
        self._tcp.writelines((_data_frame_head(TEXT if text else BINARY, len(data)), data))

    def close(self) -> None:
        """Close after what is queued: a close frame (1000) goes after it, and TCP closes
        when the client answers, or after ``shutdown_grace`` seconds if it does not (two
        at most if a frame was on its way: the client cannot answer before it ends, and
        the rest of it is read and dropped meanwhile)."""
        if self._closing:
            return
        self._closing = True
        self._ws.send_close(CloseCode.NORMAL_CLOSURE)
        self._send_pending()
        grace = self._registry.config.shutdown_grace
        if self._charged:
            grace = min(grace, 2.0)
        self._timer = asyncio.get_running_loop().call_later(grace, self._tcp.abort)

    def is_closing(self) -> bool:
        return self._closing

    def can_write_eof(self) -> bool:
        return False  # a WebSocket closes with its own handshake

    def write_eof(self) -> None:
        raise NotImplementedError

    def get_write_buffer_size(self) -> int:
        return self._tcp.get_write_buffer_size()

    def pause_reading(self) -> None:
        if not self._tcp.is_closing():
            self._tcp.pause_reading()

    def resume_reading(self) -> None:
        if not self._tcp.is_closing():
            self._tcp.resume_reading()

    # -- inside -------------------------------------------------------------------------

    def _unfinished_frame(self, session: ServerSession, size: int, *, started: bool) -> None:
        """Account for the ``size`` bytes of a WebSocket frame still on its way;
        ``started`` when it began with this read (or a frame completed in it)."""
        memory = self._registry.broker.memory
        grew = size > self._charged
        memory.adjust(self._charged, size)
        self._charged = size
        if not size:
            if self._frame_timer is not None:
                self._frame_timer.cancel()
                self._frame_timer = None
            return
        limits = self._registry.config.connect_limits
        if session.session is None and size > (limits.max_frame_size or size):
            session.error(
                f"max_frame_size limit of {limits.max_frame_size} exceeded",
                "a WebSocket message before CONNECT may not be larger than a CONNECT frame",
            )
            return
        if grew and memory.over:
            session.block_for_memory()
        loop = asyncio.get_running_loop()
        if started:
            self._frame_began = loop.time()
        if self._frame_timer is None:
            timeout = self._registry.config.frame_timeout
            self._frame_timer = loop.call_at(self._frame_began + timeout, self._frame_late)

    def _frame_late(self) -> None:
        self._frame_timer = None
        session = self.session
        if session is None or not self._charged:
            return
        timeout = self._registry.config.frame_timeout
        waited = asyncio.get_running_loop().time() - self._frame_began
        if waited < timeout:  # frames completed since: time the one on its way now
            self._frame_timer = asyncio.get_running_loop().call_later(
                timeout - waited, self._frame_late
            )
            return
        session.error(
            "frame timeout",
            f"a WebSocket frame begun {waited:.1f} s ago has not ended ({self._charged} bytes "
            f"of it received); frame_timeout is {timeout:g} s",
        )

    def _send_pending(self) -> None:
        """Write what the WebSocket protocol queued. Its end-of-stream mark means the
        closing handshake is over (or the connection failed): the server closes TCP
        first (RFC 6455, 7.1.1), and the session has had all its input."""
        tcp = self._tcp
        for data in self._ws.data_to_send():
            if data:
                if not tcp.is_closing():
                    tcp.write(data)
                continue
            tcp.close()
            self._closing = True
            if self.session is not None:
                self.session.eof_received()

    def _handshake(self, data: bytes) -> None:
        """Feed the upgrade request to the handshake protocol, up to its end and no
        further; then answer it, and hand what follows (frames sent early) to the new
        session."""
        ws, head = self._ws, self._head
        if head is None or not isinstance(ws, ServerProtocol) or self._tcp.is_closing():
            return  # answered already
        start = max(len(head) - len(_END_OF_HEAD) + 1, 0)
        head += data  # in place: a request sent a byte at a time costs no more than whole
        if self._sockjs is not None and self._for_sockjs(head):
            return
        end = head.find(_END_OF_HEAD, start)
        if end < 0:
            ws.receive_data(data)
            self._send_pending()  # the answer to a line too long, too many headers
            return
        end += len(_END_OF_HEAD)
        self._head = None
        ws.receive_data(data[: len(data) - (len(head) - end)])
        for event in ws.events_received():
            if isinstance(event, Request):
                self._upgrade(ws, event, bytes(head[:end]), bytes(head[end:]))
                return
        self._send_pending()  # not HTTP: the protocol closes the connection

    def _for_sockjs(self, head: bytearray) -> bool:
        """Hand the connection to SockJS if its request line names a path under
        ``ws_path/`` (SockJS's ``/info``, ``/<server>/<session>/xhr_streaming``...)."""
        assert self._sockjs is not None
        line_end = head.find(b"\r\n")
        if line_end < 0:
            return False
        parts = bytes(head[:line_end]).split(b" ")
        prefix = self._registry.config.ws_path.rstrip("/").encode() + b"/"
        if len(parts) != 3 or not parts[1].partition(b"?")[0].startswith(prefix):
            return False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._head = None
        self._sockjs.take_over(self._tcp, bytes(head))
        return True

    def _upgrade(self, ws: ServerProtocol, request: Request, head: bytes, early: bytes) -> None:
        registry = self._registry
        config = registry.config
        peername = self._tcp.get_extra_info("peername")
        client = (str(peername[0]), int(peername[1])) if isinstance(peername, tuple) else None
        peer = f"ws:{client[0]}:{client[1]}" if client else f"ws:{peername}"
        if request.path.partition("?")[0] != config.ws_path:
            response = ws.reject(404, f"no STOMP endpoint at {request.path}\n")
        elif not _origin_allowed(config, request, peer):
            response = ws.reject(403, "origin not allowed\n")
        elif (refusal := registry.refusal(peer)) is not None:
            response = ws.reject(503, f"{refusal}\n")
        else:
            response = ws.accept(request)
        ws.send_response(response)
        self._send_pending()
        if response.status_code != 101:
            return  # the protocol ended the stream after its answer: TCP is closing
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._ws = _open_connection(config)
        log.debug("%s: connection opened", peer)
        cert = client_certificate(self._tcp)
        self.session = registry.open(self, peer, HandshakeScope(head, client), client_cert=cert)
        if early:
            self.data_received(early)


async def serve_websocket(
    registry: SessionRegistry, *, tls: ssl.SSLContext | None = None
) -> asyncio.Server:
    """Start a WebSocket listener on ``host:ws_port`` at ``ws_path`` of the registry's
    config, opening its sessions in ``registry``; WSS with a ``tls`` context. Stop it as
    any :class:`asyncio.Server` (``close()``, ``await wait_closed()``);
    ``registry.shutdown()`` closes the sessions."""
    config = registry.config
    sockjs = None
    if config.sockjs:
        from .sockjs import SockJSListener

        sockjs = SockJSListener(registry)
    return await asyncio.get_running_loop().create_server(
        lambda: WebSocketProtocol(registry, sockjs),
        config.host,
        config.ws_port,
        reuse_address=True,
        backlog=1024,
        ssl=tls,
        ssl_handshake_timeout=config.connect_timeout if tls is not None else None,
    )


_DATA_OPCODES = frozenset((TEXT, BINARY, CONT))
"""A fragment of a message is a piece of the STOMP stream like any other."""

_HEAD_16 = struct.Struct("!BBH")
_HEAD_64 = struct.Struct("!BBQ")


def _data_frame_head(opcode: int, size: int) -> bytes:
    """The head of a whole (FIN), unmasked data frame of ``size`` bytes (RFC 6455, 5.2)."""
    first = 0x80 | opcode
    if size < 126:
        return bytes((first, size))
    if size < 1 << 16:
        return _HEAD_16.pack(first, 126, size)
    return _HEAD_64.pack(first, 127, size)


def _handshake_protocol(config: ServerConfig) -> ServerProtocol:
    return ServerProtocol(
        select_subprotocol=_select_subprotocol,
        max_size=_max_size(config),
        logger=_WEBSOCKETS_LOG,
    )


def _open_connection(config: ServerConfig) -> WebSocketConnection:
    """The sans-IO connection past the upgrade: the base class, which holds nothing of
    the handshake (the server class's parser keeps the request)."""
    return WebSocketConnection(
        SERVER, state=OPEN, max_size=_max_size(config), logger=_WEBSOCKETS_LOG
    )


def _max_size(config: ServerConfig) -> int:
    """A message holds at most one STOMP frame of the largest size, and room for
    heart-beats around it."""
    return (config.limits.max_frame_size or 1 << 26) + 1024


def _origin_allowed(config: ServerConfig, request: Request, peer: str) -> bool:
    """Whether the page that opened this WebSocket may (docs/configuration.md, "Origin
    checks"); a refusal is logged."""
    origins, hosts = request.headers.get_all("Origin"), request.headers.get_all("Host")
    origin = ", ".join(origins) or None  # several: malformed, so refused
    if _origin_policy(tuple(config.allowed_origins or ())).allows(
        origin, hosts[0] if len(hosts) == 1 else None
    ):
        return True
    log.warning("%s: WebSocket handshake refused: origin %r is not allowed", peer, origin)
    return False


@functools.lru_cache(maxsize=4)
def _origin_policy(allowed: tuple[str, ...]) -> OriginPolicy:
    """Built once per list of origins rather than once per handshake."""
    return OriginPolicy(allowed)


def _select_subprotocol(ws: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The highest STOMP version offered; none offered is fine too (STOMP 1.0..1.2 is
    then agreed in CONNECT, as over TCP)."""
    chosen = choose_subprotocol(tuple(offered))
    return Subprotocol(chosen) if chosen is not None else None
