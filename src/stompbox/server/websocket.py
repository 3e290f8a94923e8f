"""The WebSocket listener of ``stompbox serve``, on the ``websockets`` library's server
(port 15674 at ``/ws``, as RabbitMQ Web-STOMP). :class:`~stompbox.server.asgi.StompASGI`
is the other front door, for ASGI servers.
"""

from __future__ import annotations

import logging
from typing import Any

from stompbox.net import choose_subprotocol

from .asgi import MessageTransport, StompASGI, pump
from .registry import SessionRegistry

__all__ = ["StompASGI", "serve_websocket"]

log = logging.getLogger("stompbox.server")


# -- the websockets library's server -----------------------------------------------------


async def serve_websocket(registry: SessionRegistry) -> Any:
    """Start a WebSocket listener on ``host:ws_port`` at ``ws_path`` of the registry's
    config, opening its sessions in ``registry``."""
    from websockets.asyncio.server import ServerConnection as WebSocket
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Request, Response
    from websockets.typing import Subprotocol

    config = registry.config

    def check_path(websocket: WebSocket, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != config.ws_path:
            return Response(
                404, "Not Found", Headers(), f"no STOMP endpoint at {request.path}\n".encode()
            )
        host, port = websocket.remote_address[:2]
        refusal = registry.refusal(f"ws:{host}:{port}")
        if refusal is not None:
            return Response(503, "Service Unavailable", Headers(), f"{refusal}\n".encode())
        return None

    def select(websocket: WebSocket, offered: Any) -> Subprotocol | None:
        chosen = choose_subprotocol(list(offered))
        return Subprotocol(chosen) if chosen else None

    async def handler(websocket: WebSocket) -> None:
        transport = MessageTransport(
            websocket.send, websocket.send, config.outbound_buffer, websocket.close
        )
        host, port = websocket.remote_address[:2]
        session = registry.open(transport, f"ws:{host}:{port}")
        transport.session = session

        async def receive() -> bytes | None:
            try:
                message = await websocket.recv()
            except Exception:  # closed by the peer, or a broken connection
                return None
            return message.encode() if isinstance(message, str) else message

        try:
            await pump(transport, session, receive, config.shutdown_grace)
        finally:
            await websocket.close()

    return await serve(
        handler,
        config.host,
        config.ws_port,
        process_request=check_path,
        select_subprotocol=select,
        max_size=(config.limits.max_frame_size or 1 << 26) + 1024,
        ping_interval=None,  # STOMP heart-beats do this job
        compression=None,
    )
