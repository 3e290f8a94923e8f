"""Which headers each frame needs, per version (STOMP 1.0, 1.1 and 1.2 "Client Frames")."""

from __future__ import annotations

from typing import Final

from .frames import CLIENT_COMMANDS, SERVER_COMMANDS, Frame

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
    _REQUIRED[("SEND", _version)] = ("destination",)
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
    """Say what is wrong with a client frame sent after CONNECTED, or ``None``."""
    command = frame.command
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
    elif (
        command == "UNSUBSCRIBE"
        and version == "1.0"
        and frame.get("id") is None
        and frame.get("destination") is None
    ):
        return "UNSUBSCRIBE frame needs an 'id' or a 'destination' header"
    return None


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
