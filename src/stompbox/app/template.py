"""The messaging template: where the messages an application makes go (its broker, or
the relayed one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stompbox.broker import Broker
from stompbox.protocol import Frame

from .conversion import encode_payload

if TYPE_CHECKING:
    from .relaying import Relaying

__all__ = ["Template"]


class Template:
    """Publishes for the application: to the embedded broker, or with a relay to the
    external broker (RabbitMQ, ActiveMQ) through the relay's system session."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.relay: Relaying | None = None

    def publish(self, destination: str, payload: Any, headers: Mapping[str, str] | None) -> None:
        """Raises :class:`~stompbox.relay.RelayUnavailable` while a relayed broker is away
        and nothing more may wait for it."""
        body, content_type = encode_payload(payload)
        out = [("destination", destination)]
        if content_type:
            out.append(("content-type", content_type))
        if headers:
            out.extend(headers.items())
        if self.relay is not None:
            self.relay.publish(Frame("SEND", tuple(out), body))
            return
        self.broker.publish(destination, tuple(out[1:]), body)
