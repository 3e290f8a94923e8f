"""The messaging template: where the messages an application makes go (its broker, or
the relayed one), and the relay connections of its sessions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from stompbox.broker import Broker
from stompbox.net import BrokerURL
from stompbox.protocol import Frame
from stompbox.relay import RelayConnection
from stompbox.server.session import ServerSession

from .conversion import encode_payload

__all__ = ["Template"]

log = logging.getLogger("stompbox.app")


class Template:
    """Publishes for the application: to the embedded broker, or with ``relay_url`` to
    the external broker (RabbitMQ, ActiveMQ), where each session also gets its own
    connection and the template shares one."""

    def __init__(self, broker: Broker, relay_url: BrokerURL | None) -> None:
        self.broker = broker
        self.relay_url = relay_url
        self._relays: dict[ServerSession, RelayConnection] = {}
        self._system_relay: RelayConnection | None = None

    def publish(self, destination: str, payload: Any, headers: Mapping[str, str] | None) -> None:
        body, content_type = encode_payload(payload)
        out = [("destination", destination)]
        if content_type:
            out.append(("content-type", content_type))
        if headers:
            out.extend(headers.items())
        if self.relay_url is not None:
            self._system().send(Frame("SEND", tuple(out), body))
            return
        self.broker.publish(destination, tuple(out[1:]), body)

    def _system(self) -> RelayConnection:
        """The relay connection the template publishes through, made on first use."""
        if self._system_relay is None:
            assert self.relay_url is not None

            def lost(reason: str) -> None:
                self._system_relay = None

            relay = RelayConnection(self.relay_url, None, _system_frame, lost)
            relay.start()
            self._system_relay = relay
        return self._system_relay

    # -- the relay connections of sessions ---------------------------------------------

    def open_relay(self, session: ServerSession, rewrite: Callable[[Frame], Frame]) -> None:
        """With a relay, give ``session`` its own connection to the external broker;
        ``rewrite`` sees each frame from it before the client does."""
        if self.relay_url is None:
            return

        def from_broker(frame: Frame) -> None:
            if frame.command == "ERROR":
                detail = frame.body.decode("utf-8", "replace")
                session.error(frame.get("message") or "broker error", detail)
            else:
                session.write_frame(rewrite(frame))

        def lost(reason: str) -> None:
            session.error("broker relay lost", reason)

        relay = RelayConnection(self.relay_url, session.conn.version, from_broker, lost)
        relay.start()
        self._relays[session] = relay

    def relay_of(self, session: ServerSession) -> RelayConnection | None:
        return self._relays.get(session)

    def close_relay(self, session: ServerSession, spawn: Callable[[Any], None]) -> None:
        relay = self._relays.pop(session, None)
        if relay is not None:
            spawn(relay.close())


def _system_frame(frame: Frame) -> None:
    if frame.command == "ERROR":
        log.error("relay refused a message: %s", frame.get("message"))
