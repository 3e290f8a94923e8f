"""Connections for the load scenarios: STOMP over a plain socket or over WebSocket, each a
:class:`Link` with ``send(bytes)`` and ``recv() -> bytes``, so that one producer and one
consumer serve both transports.

The WebSocket link drives the sans-IO ``websockets.client.ClientProtocol`` over a
blocking socket of its own rather than a client that does its own I/O: the consumer
watches every link's socket with one selector, and a link costs the load process no
thread, no task and no decoding of text into ``str``.
"""

from __future__ import annotations

import socket
import ssl
from typing import Protocol

from stompbox.net import BrokerURL

__all__ = [
    "Link",
    "TcpLink",
    "WebSocketLink",
    "open_link",
    "read_frame",
    "stomp_connect",
    "subscribe",
]

READ_SIZE = 1 << 18


class Link(Protocol):
    """A connected byte stream to a broker."""

    frames_per_send: int
    """How many STOMP frames the producer packs into one ``send``."""

    def fileno(self) -> int: ...

    def send(self, data: bytes) -> None:
        """Send all of ``data`` (over WebSocket, as one message)."""

    def recv(self) -> bytes:
        """Block for what arrives next; ``b""`` once the broker has closed."""

    def close(self) -> None: ...


class TcpLink:
    """STOMP over TCP: the socket itself."""

    frames_per_send = 256

    def __init__(self, url: BrokerURL) -> None:
        if url.tls or url.websocket:
            raise ValueError("a TCP link speaks plain STOMP: use a stomp:// URL")
        self.sock = socket.create_connection((url.host, url.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> bytes:
        return self.sock.recv(READ_SIZE)

    def close(self) -> None:
        self.sock.close()


class WebSocketLink:
    """STOMP over WebSocket (``v12.stomp``), frames sent as text messages as browsers do."""

    frames_per_send = 16
    """Few enough that a message stays well under brokers' WebSocket frame limits
    (RabbitMQ's default is 50,000 bytes), enough that framing costs the producer little."""

    def __init__(self, url: BrokerURL) -> None:
        from websockets.client import ClientProtocol
        from websockets.protocol import CONNECTING, OPEN
        from websockets.typing import Subprotocol
        from websockets.uri import parse_uri

        if not url.websocket:
            raise ValueError("a WebSocket link needs a ws:// or wss:// URL")
        sock = socket.create_connection((url.host, url.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if url.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=url.host)
        self.sock = sock
        scheme = "wss" if url.tls else "ws"
        self.protocol = ClientProtocol(
            parse_uri(f"{scheme}://{url.host}:{url.port}{url.path}"),
            subprotocols=[Subprotocol("v12.stomp")],
            max_size=None,
        )
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self._early = b""  # frames that came with the handshake's response
        while (
            self.protocol.state is CONNECTING
            and self.protocol.handshake_exc is None
            and self._receive()
        ):
            self._early = self._payload()
        if self.protocol.state is not OPEN:
            sock.close()
            reason = self.protocol.handshake_exc or "the connection closed"
            raise ConnectionError(f"WebSocket handshake failed: {reason}")

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes) -> None:
        self.protocol.send_text(data)
        self._flush()

    def recv(self) -> bytes:
        if self._early:
            data, self._early = self._early, b""
            return data
        while True:
            if not self._receive():
                return b""
            data = self._payload()
            if data:
                return data

    def close(self) -> None:
        self.sock.close()

    def _receive(self) -> bool:
        """Feed the protocol one read; False at end of stream."""
        data = self.sock.recv(READ_SIZE)
        if isinstance(self.sock, ssl.SSLSocket):
            while self.sock.pending():  # decrypted bytes a selector would not report
                data += self.sock.recv(READ_SIZE)
        if not data:
            self.protocol.receive_eof()
            return False
        self.protocol.receive_data(data)
        return True

    def _payload(self) -> bytes:
        from websockets.frames import DATA_OPCODES, Frame

        payload = b"".join(
            [
                event.data
                for event in self.protocol.events_received()
                if isinstance(event, Frame) and event.opcode in DATA_OPCODES
            ]
        )
        self._flush()  # pongs, or the answer to a close
        return payload

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            self.sock.sendall(chunk)


def open_link(url: BrokerURL) -> Link:
    """A :class:`WebSocketLink` for ``ws://`` and ``wss://``, else a :class:`TcpLink`."""
    return WebSocketLink(url) if url.websocket else TcpLink(url)


def read_frame(link: Link) -> bytes:
    """Read up to the end of one frame, for replies during setup (CONNECTED, RECEIPT)."""
    data = b""
    while b"\0" not in data:
        chunk = link.recv()
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data.lstrip(b"\r\n")


def stomp_connect(url: BrokerURL, heartbeat: str = "0,0") -> Link:
    """A link past CONNECTED, with the URL's login, passcode and virtual host."""
    link = open_link(url)
    lines = [b"CONNECT", b"accept-version:1.2", b"host:" + url.vhost.encode()]
    if url.login is not None:
        lines.append(b"login:" + url.login.encode())
    if url.passcode is not None:
        lines.append(b"passcode:" + url.passcode.encode())
    lines.append(b"heart-beat:" + heartbeat.encode())
    link.send(b"\n".join(lines) + b"\n\n\0")
    reply = read_frame(link)
    if not reply.startswith(b"CONNECTED"):
        link.close()
        raise ConnectionError(f"broker refused CONNECT: {reply.decode(errors='replace')}")
    return link


def subscribe(link: Link, destination: str, sub_id: str = "0") -> None:
    """SUBSCRIBE with a receipt, and wait for it: the subscription is live after this."""
    link.send(
        f"SUBSCRIBE\nid:{sub_id}\ndestination:{destination}\nack:auto\nreceipt:sub\n\n\0".encode()
    )
    reply = read_frame(link)
    if not reply.startswith(b"RECEIPT"):
        raise ConnectionError(reply.decode(errors="replace"))
