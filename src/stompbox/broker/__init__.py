"""The embedded in-memory broker: synchronous, single-owner, no I/O."""

from .broker import Broker, BrokerStats
from .config import BrokerConfig, DestinationKind, SlowConsumerPolicy
from .errors import BrokerError
from .matching import TopicIndex
from .memory import MemoryBudget
from .message import Message
from .session import Session, SessionSink, Subscription
from .store import StoreError

__all__ = [
    "Broker",
    "BrokerConfig",
    "BrokerError",
    "BrokerStats",
    "DestinationKind",
    "MemoryBudget",
    "Message",
    "Session",
    "SessionSink",
    "SlowConsumerPolicy",
    "StoreError",
    "Subscription",
    "TopicIndex",
]
