"""Relaying broker destinations to an external broker (RabbitMQ, ActiveMQ) for scale-out:
several stompbox processes share one distributed broker instead of a home-made cluster.

:class:`SystemSession` is the relay's own connection (opened at start-up, reconnected
forever); :class:`ClientRelay` is each client's; :class:`RelaySettings` says where and how.
"""

from .connection import RelayConnection
from .session import ClientRelay, RelayPeer
from .settings import Addresses, RelaySettings, RelaySettingsError
from .system import RelayUnavailable, SystemSession

__all__ = [
    "Addresses",
    "ClientRelay",
    "RelayConnection",
    "RelayPeer",
    "RelaySettings",
    "RelaySettingsError",
    "RelayUnavailable",
    "SystemSession",
]
