"""stompbox: a STOMP 1.0/1.1/1.2 broker, protocol core, client and tools for Python."""

import logging

from ._version import __version__
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

# A library logs; the application decides where it goes (stompbox serve configures it).
logging.getLogger("stompbox").addHandler(logging.NullHandler())

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
