"""STOMP over SockJS: each SockJS session carries one STOMP session, whatever transport
(WebSocket, XHR streaming or polling, EventSource, iframe, JSONP) the browser fell back to.

:class:`StompSockJS` is the handler a :class:`~stompbox.sockjs.SockJSEndpoint` calls; each
session it opens is a :class:`~stompbox.server.session.ServerSession` of the registry, as
TCP and WebSocket ones are, with the opening request's scope as its handshake (so that
tokens in a cookie, header or query string authenticate it) and the same Origin policy.
A SockJS message is text: STOMP output is sent as one message per write, decoded as
UTF-8 (a body that is not UTF-8 cannot cross SockJS; its bad bytes arrive as U+FFFD).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from stompbox.security.origins import OriginPolicy
from stompbox.sockjs import SockJSEndpoint, SockJSSession

from .registry import SessionRegistry
from .session import ServerSession

__all__ = ["SockJSTransport", "StompSockJS", "sockjs_endpoint"]

log = logging.getLogger("stompbox.server")

_REFUSED = 3003
"""The SockJS close code of a session the server cannot take (max_connections)."""


class SockJSTransport:
    """A :class:`~stompbox.server.session.Transport` over one SockJS session."""

    __slots__ = ("_paused", "_sockjs", "session")

    def __init__(self, sockjs: SockJSSession) -> None:
        self._sockjs = sockjs
        self._paused = False
        self.session: ServerSession | None = None
        sockjs.on_drain = self._drained

    def write(self, data: bytes) -> None:
        if self._sockjs.closed:
            return
        self._sockjs.send(data.decode("utf-8", "replace"))
        session = self.session
        if (
            session is not None
            and not self._paused
            and self._sockjs.buffered > session.config.outbound_buffer
        ):
            self._paused = True
            session.pause_writing()

    def writelines(self, data: list[bytes]) -> None:
        self.write(data[0] if len(data) == 1 else b"".join(data))

    def _drained(self) -> None:
        session = self.session
        if (
            self._paused
            and session is not None
            and self._sockjs.buffered <= session.config.outbound_buffer // 2
        ):
            self._paused = False
            session.resume_writing()

    def get_write_buffer_size(self) -> int:
        return self._sockjs.buffered

    def close(self) -> None:
        if not self._sockjs.closed:
            self._sockjs.close(3000, "Go away!")

    def is_closing(self) -> bool:
        return self._sockjs.closed

    def can_write_eof(self) -> bool:
        return False  # a SockJS session ends with its close frame

    def write_eof(self) -> None:
        raise NotImplementedError

    def pause_reading(self) -> None:
        self._sockjs.pause_reading()

    def resume_reading(self) -> None:
        self._sockjs.resume_reading()


class StompSockJS:
    """The :class:`~stompbox.sockjs.SockJSHandler` that runs STOMP in each session."""

    def __init__(self, registry: SessionRegistry) -> None:
        self.registry = registry
        self._sessions: dict[SockJSSession, ServerSession] = {}

    def opened(self, sockjs: SockJSSession) -> None:
        client = sockjs.scope.get("client") or ("?", 0)
        peer = f"sockjs:{client[0]}:{client[1]}"
        refusal = self.registry.refusal(peer)
        if refusal is not None:
            sockjs.close(_REFUSED, refusal)
            return
        transport = SockJSTransport(sockjs)
        session = self.registry.open(transport, peer, sockjs.scope)
        transport.session = session
        self._sessions[sockjs] = session

    def received(self, sockjs: SockJSSession, messages: list[str]) -> None:
        session = self._sessions.get(sockjs)
        if session is not None:
            session.data_received("".join(messages).encode())

    def closed(self, sockjs: SockJSSession) -> None:
        session = self._sessions.pop(sockjs, None)
        if session is not None:
            session.connection_lost()


def sockjs_endpoint(registry: SessionRegistry, prefix: str = "") -> SockJSEndpoint:
    """The SockJS endpoint of ``registry``'s sessions, with its Origin policy; mount it
    at a path (``/portfolio``), or give the ``prefix`` it is called under."""
    config = registry.config
    policy = OriginPolicy(config.allowed_origins)

    def allow_origin(scope: Mapping[str, Any]) -> bool:
        headers = dict(scope.get("headers") or ())
        origin = headers.get(b"origin")
        host = headers.get(b"host")
        allowed = policy.allows(
            origin.decode("latin-1") if origin is not None else None,
            host.decode("latin-1") if host is not None else None,
        )
        if not allowed:
            client = scope.get("client") or ("?", 0)
            log.warning("sockjs:%s:%s: refused, origin %r is not allowed", *client, origin)
        return allowed

    # any origin allowed: nothing to check, and the transports that cannot carry an
    # Origin (iframe-htmlfile, jsonp-polling) are on; otherwise they are off, as Spring's
    anywhere = "*" in (config.allowed_origins or ())
    return SockJSEndpoint(
        StompSockJS(registry),
        heartbeat=config.sockjs_heartbeat,
        disconnect_delay=config.sockjs_disconnect_delay,
        max_message_bytes=config.limits.max_frame_size or 1 << 26,
        # the STOMP session stops writing past outbound_buffer, after the turn's output:
        # room for that and one more frame, so that only a client that stops reading is cut
        max_queued=2 * config.outbound_buffer + (config.limits.max_frame_size or 1 << 26),
        allow_origin=None if anywhere else allow_origin,
        client_url=config.sockjs_client_url,
        prefix=prefix,
        websocket_subprotocols=("v12.stomp", "v11.stomp", "v10.stomp"),
    )


class SockJSListener:
    """SockJS on the WebSocket listener of ``stompbox serve``: a request for a path under
    ``ws_path/`` is handed, connection and all, to uvicorn's HTTP/1.1 protocol serving the
    SockJS endpoint, while a WebSocket upgrade of ``ws_path`` itself stays on the
    listener's own fast path."""

    def __init__(self, registry: SessionRegistry) -> None:
        import uvicorn
        from uvicorn.server import ServerState

        config = registry.config
        self.endpoint = sockjs_endpoint(registry, prefix=config.ws_path)
        self._config = uvicorn.Config(
            self.endpoint,
            lifespan="off",
            ws="websockets-sansio",
            log_level="warning",
            access_log=False,
            ws_max_size=(config.limits.max_frame_size or 1 << 26) + 1024,
        )
        self._config.load()
        self._state = ServerState()

    def take_over(self, transport: Any, received: bytes) -> None:
        """Serve the connection of ``transport`` from here on, starting with the bytes
        already ``received`` (the request's head, and whatever followed it)."""
        from uvicorn.protocols.http.h11_impl import H11Protocol

        protocol = H11Protocol(self._config, self._state, {})
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(received)
