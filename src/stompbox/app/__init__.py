"""The application framework: decorated handlers for ``/app`` destinations, reply routing,
user destinations, a messaging template, events and interceptors, over the embedded broker.
"""

from .app import (
    AccessDenied,
    BrokerAvailability,
    Credentials,
    FrameRejected,
    SessionEvent,
    StompApp,
    send_to,
    send_to_user,
)
from .conversion import ConversionError
from .params import Header
from .routing import ExceptionRoute, MessageRoute, Pattern, Reply, Router, SubscribeRoute
from .testing import TestClient

__all__ = [
    "AccessDenied",
    "BrokerAvailability",
    "ConversionError",
    "Credentials",
    "ExceptionRoute",
    "FrameRejected",
    "Header",
    "MessageRoute",
    "Pattern",
    "Reply",
    "Router",
    "SessionEvent",
    "StompApp",
    "SubscribeRoute",
    "TestClient",
    "send_to",
    "send_to_user",
]
