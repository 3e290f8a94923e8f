"""stompbox: a STOMP 1.0/1.1/1.2 broker, protocol core, client and tools for Python."""

__version__ = "0.1.0"

from .client import (
    BrokerErrorFrame,
    Client,
    ConnectFailed,
    ConnectionLost,
    Message,
    StompError,
    Subscription,
    Transaction,
    connect,
)

__all__ = [
    "BrokerErrorFrame",
    "Client",
    "ConnectFailed",
    "ConnectionLost",
    "Message",
    "StompError",
    "Subscription",
    "Transaction",
    "__version__",
    "connect",
]
