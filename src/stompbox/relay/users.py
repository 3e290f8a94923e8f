"""Users across instances: which user has which sessions listening to which user
destinations on the other stompbox instances relaying to the same broker (Spring's
``MultiServerUserRegistry``). Each instance publishes its own part on a topic of the
broker; this module only encodes, decodes and ages those parts, with time as an argument.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

__all__ = ["LocalUsers", "RemoteUsers", "decode_registry", "encode_registry"]

log = logging.getLogger("stompbox.relay")

LocalUsers = Mapping[str, Mapping[str, list[str]]]
"""user -> session id -> the user destinations it listens to (``/queue/updates``)."""

MAX_REGISTRY_BYTES = 8 << 20
"""A registry message larger than this is ignored (and logged)."""


def encode_registry(instance: str, users: LocalUsers, ttl: float) -> bytes:
    return json.dumps(
        {"instance": instance, "ttl": ttl, "users": users}, separators=(",", ":")
    ).encode()


def decode_registry(body: bytes) -> tuple[str, dict[str, dict[str, list[str]]], float]:
    """(instance, users, ttl) of a registry message; ValueError if it is not one."""
    if len(body) > MAX_REGISTRY_BYTES:
        raise ValueError(f"{len(body)} bytes, over {MAX_REGISTRY_BYTES}")
    data = json.loads(body)
    instance, users, ttl = data["instance"], data["users"], float(data["ttl"])
    if not isinstance(instance, str) or not isinstance(users, dict):
        raise ValueError("instance must be a string and users an object")
    clean = {
        str(user): {str(sid): [str(d) for d in dests] for sid, dests in sessions.items()}
        for user, sessions in users.items()
    }
    return instance, clean, ttl


class RemoteUsers:
    """What the other instances said last, each part forgotten once its ttl passes."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self._parts: dict[str, tuple[float, dict[str, dict[str, list[str]]]]] = {}

    def update(self, body: bytes, now: float) -> None:
        try:
            instance, users, ttl = decode_registry(body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("relay: ignored a malformed user registry message: %s", exc)
            return
        if instance != self.instance:
            self._parts[instance] = (now + ttl, users)

    def forget(self, instance: str) -> None:
        self._parts.pop(instance, None)

    def sessions(self, user: str, destination: str, now: float) -> list[str]:
        """Ids of the user's sessions elsewhere that listen to ``destination``."""
        found = []
        for instance, (expires, users) in list(self._parts.items()):
            if expires < now:
                del self._parts[instance]
                continue
            for sid, destinations in users.get(user, {}).items():
                if destination in destinations:
                    found.append(sid)
        return found

    def knows(self, user: str, now: float) -> bool:
        """Whether any other instance is known to hold a session of ``user``."""
        return any(expires >= now and user in users for expires, users in self._parts.values())

    def counts(self, now: float) -> dict[str, int]:
        """Sessions per user on the other instances."""
        out: dict[str, int] = {}
        for expires, users in self._parts.values():
            if expires >= now:
                for user, sessions in users.items():
                    out[user] = out.get(user, 0) + len(sessions)
        return out
