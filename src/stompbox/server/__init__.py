"""asyncio transports that feed bytes to the protocol core and frames to the broker."""

from .asgi import StompASGI
from .config import ConfigError, ServerConfig
from .run import run, serve, start_server
from .session import ServerSession
from .tcp import TcpServer
from .websocket import serve_websocket

__all__ = [
    "ConfigError",
    "ServerConfig",
    "ServerSession",
    "StompASGI",
    "TcpServer",
    "run",
    "serve",
    "serve_websocket",
    "start_server",
]
