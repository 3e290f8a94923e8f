"""Which headers each frame needs, per version (STOMP 1.0, 1.1 and 1.2 "Client Frames")."""

from __future__ import annotations

from typing import Final

from .frames import CLIENT_COMMANDS, SERVER_COMMANDS, Frame
from .serializer import unwritable

__all__ = ["ACK_MODES", "client_frame_problem", "negotiate_version", "server_frame_problem"]

ACK_MODES: Final = {
    # client-individual on 1.0 is an extension, as in RabbitMQ and ActiveMQ: the client
    # acknowledges by message-id, as for client.
    "1.0": frozenset({"auto", "client", "client-individual"}),
    "1.1": frozenset({"auto", "client", "client-individual"}),
    "1.2": frozenset({"auto", "client", "client-individual"}),
}

_REQUIRED: Final[dict[tuple[str, str], tuple[str, ...]]] = {}
for _version in ("1.0", "1.1", "1.2"):
    _REQUIRED[("SUBSCRIBE", _version)] = (
        ("destination",)
        if _version == "1.0"
        else (
            "destination",
            "id",
        )
    )
    _REQUIRED[("UNSUBSCRIBE", _version)] = () if _version == "1.0" else ("id",)
    _REQUIRED[("BEGIN", _version)] = ("transaction",)
    _REQUIRED[("COMMIT", _version)] = ("transaction",)
    _REQUIRED[("ABORT", _version)] = ("transaction",)
    _REQUIRED[("DISCONNECT", _version)] = ()
_REQUIRED[("ACK", "1.0")] = ("message-id",)
_REQUIRED[("ACK", "1.1")] = ("message-id", "subscription")
_REQUIRED[("NACK", "1.1")] = ("message-id", "subscription")
_REQUIRED[("ACK", "1.2")] = ("id",)
_REQUIRED[("NACK", "1.2")] = ("id",)


def negotiate_version(accept_version: str | None, supported: tuple[str, ...]) -> str | None:
    """Pick the highest version both sides speak; an absent ``accept-version`` means 1.0."""
    offered = {"1.0"} if accept_version is None else {v.strip() for v in accept_version.split(",")}
    common = [v for v in supported if v in offered]
    return max(common, key=lambda v: tuple(map(int, v.split(".")))) if common else None


def client_frame_problem(frame: Frame, version: str) -> str | None:
    """Say what is wrong with a client frame sent after CONNECTED, or ``None``.

    Beyond the spec's required headers: text the server must send back is refused when
    it could not be written, rather than failing later on the way out. A destination goes
    to subscribers of every version, so it must be writable in STOMP 1.0; a 1.0 client's
    ``receipt`` (and SUBSCRIBE ``id``) must be writable in 1.0.
    """
    command = frame.command
    if command == "SEND":  # the common case first
        destination = frame.get("destination")
        if destination is None:
            return f"SEND frame has no 'destination' header, which STOMP {version} requires"
        if "\n" in destination or "\r" in destination:
            return _unwritable_problem("destination", destination)
        return _echoed_problem(frame) if version == "1.0" else None
    if command not in CLIENT_COMMANDS:
        return f"unknown command {command!r}"
    if command == "CONNECT" or command == "STOMP":
        return f"{command} received on a connection that is already connected"
    required = _REQUIRED.get((command, version))
    if required is None:
        return f"{command} is not a STOMP {version} command"
    for name in required:
        if frame.get(name) is None:
            return f"{command} frame has no {name!r} header, which STOMP {version} requires"
    if command == "SUBSCRIBE":
        ack = frame.get("ack", "auto")
        if ack not in ACK_MODES[version]:
            modes = ", ".join(sorted(ACK_MODES[version]))
            return f"invalid ack mode {ack!r}: STOMP {version} has {modes}"
        destination = frame.get("destination") or ""
        if "\n" in destination or "\r" in destination:
            return _unwritable_problem("destination", destination)
    elif (
        command == "UNSUBSCRIBE"
        and version == "1.0"
        and frame.get("id") is None
        and frame.get("destination") is None
    ):
        return "UNSUBSCRIBE frame needs an 'id' or a 'destination' header"
    return _echoed_problem(frame) if version == "1.0" else None


def _echoed_problem(frame: Frame) -> str | None:
    """What a 1.0 client sent that the server would have to echo and could not write:
    ``receipt`` (in RECEIPT and ERROR) and SUBSCRIBE's ``id`` (in MESSAGE)."""
    receipt = frame.get("receipt")
    if receipt is not None and ("\r" in receipt or "\n" in receipt):
        return _unwritable_problem("receipt", receipt)
    if frame.command == "SUBSCRIBE":
        sub_id = frame.get("id")
        if sub_id is not None and ("\r" in sub_id or "\n" in sub_id):
            return _unwritable_problem("id", sub_id)
    return None


def _unwritable_problem(name: str, value: str) -> str:
    return f"{name} header cannot be carried in STOMP 1.0: {unwritable(name, value, '1.0')}"


def server_frame_problem(frame: Frame, version: str) -> str | None:
    """Say what is wrong with a server frame received after CONNECTED, or ``None``."""
    command = frame.command
    if command not in SERVER_COMMANDS:
        return f"unknown server command {command!r}"
    if command == "CONNECTED":
        return "CONNECTED received on a connection that is already connected"
    if command == "MESSAGE":
        needed = ("destination", "message-id") + (("subscription",) if version != "1.0" else ())
        for name in needed:
            if frame.get(name) is None:
                return f"MESSAGE frame has no {name!r} header"
    elif command == "RECEIPT" and frame.get("receipt-id") is None:
        return "RECEIPT frame has no 'receipt-id' header"
    return None
