"""asyncio transports that feed bytes to the protocol core and frames to the broker."""

from .config import ConfigError, ServerConfig
from .run import run, serve, start_server
from .session import ServerSession
from .tcp import TcpServer

__all__ = [
    "ConfigError",
    "ServerConfig",
    "ServerSession",
    "TcpServer",
    "run",
    "serve",
    "start_server",
]
