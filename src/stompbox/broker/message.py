"""A message held by the broker, serialized once and shared by every delivery."""

from __future__ import annotations

from typing import Final

from stompbox.protocol.frames import Headers
from stompbox.protocol.serializer import serialize_headers

__all__ = ["BROKER_HEADERS", "Message"]

BROKER_HEADERS: Final = frozenset(
    {
        "destination",
        "message-id",
        "subscription",
        "ack",
        "receipt",
        "transaction",
        "content-length",
        "redelivered",
        "redelivery-count",
    }
)
"""Headers the broker sets or consumes; a sender's values for them are not forwarded."""


class Message:
    """A published message: destination, id, the sender's headers and the body.

    :meth:`wire` is everything of the MESSAGE frame after the per-subscription lines
    (``subscription``, ``ack``), built once per protocol version and shared among all
    subscribers, since only those lines differ between deliveries.
    """

    __slots__ = (
        "_wire",
        "_wire_version",
        "_wires",
        "body",
        "destination",
        "headers",
        "id",
        "redeliveries",
        "stored",
    )

    def __init__(self, destination: str, message_id: str, headers: Headers, body: bytes) -> None:
        self.destination = destination
        self.id = message_id
        self.headers = headers
        self.body = body
        self.redeliveries = 0
        self.stored: int | None = None
        """Row id in the message store, for a persistent queue message."""
        self._wire: bytes = b""
        self._wire_version: str | None = None
        self._wires: dict[str, bytes] | None = None

    def wire(self, version: str) -> bytes:
        if version == self._wire_version:
            return self._wire
        if self._wire_version is None:
            self._wire = self._build(version)
            self._wire_version = version
            return self._wire
        wires = self._wires
        if wires is None:
            wires = self._wires = {}
        data = wires.get(version)
        if data is None:
            data = wires[version] = self._build(version)
        return data

    def redeliver(self) -> None:
        """Count one more delivery attempt; the next :meth:`wire` says ``redelivered``."""
        self.redeliveries += 1
        self._wire_version = None
        self._wires = None

    def _build(self, version: str) -> bytes:
        headers: Headers = (("destination", self.destination), ("message-id", self.id))
        if self.redeliveries:
            headers += (("redelivered", "true"), ("redelivery-count", str(self.redeliveries)))
        text = serialize_headers("MESSAGE", headers + self.headers, version)
        body = self.body
        if body:
            return b"".join((f"{text}\ncontent-length:{len(body)}\n\n".encode(), body, b"\0"))
        return f"{text}\n\n\0".encode()
