"""The asyncio STOMP client: ``async with stompbox.connect(url) as client``."""

from stompbox.net import BrokerURL, parse_url

from .client import Client, connect
from .errors import BrokerErrorFrame, ConnectFailed, ConnectionLost, StompError
from .handles import Message, Subscription, Transaction

__all__ = [
    "BrokerErrorFrame",
    "BrokerURL",
    "Client",
    "ConnectFailed",
    "ConnectionLost",
    "Message",
    "StompError",
    "Subscription",
    "Transaction",
    "connect",
    "parse_url",
]
