"""User destinations: ``/user/queue/x`` reaches every session of one user, through a
broker destination private to each session (Spring's ``UserDestinationResolver``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stompbox.broker import Broker, BrokerError
from stompbox.broker.message import BROKER_HEADERS, vouched_headers
from stompbox.protocol import Frame
from stompbox.server.session import ServerSession

from .template import Template

__all__ = ["PRIVATE_MARKER", "UserDestinations", "strip_prefix"]

PRIVATE_MARKER = "-user"
"""What joins a user destination to its session's id in the broker destination behind it
(``/queue/updates-user<id>``, Spring's naming); the broker keeps such names private."""


def strip_prefix(destination: str, prefixes: tuple[str, ...]) -> str | None:
    """What follows the first of ``prefixes`` (and its separator) in ``destination``."""
    for prefix in prefixes:
        if destination.startswith(prefix + "/") or destination.startswith(prefix + "."):
            return destination[len(prefix) + 1 :]
    return None


class UserDestinations:
    """Which user has which sessions, and which user destinations each listens to.

    The user of a session is its verified principal's name; an anonymous session has
    user destinations of its own, which only replies to its own frames reach.
    """

    def __init__(
        self,
        broker: Broker,
        template: Template,
        user_prefix: str,
        broker_prefixes: tuple[str, ...],
    ) -> None:
        broker.private_marker = PRIVATE_MARKER
        self.broker = broker
        self.template = template
        self.prefix = user_prefix
        self.broker_prefixes = broker_prefixes
        self.users: dict[str, dict[ServerSession, None]] = {}
        self._listening: dict[ServerSession, dict[str, str]] = {}
        """session -> subscription id -> user destination (``/queue/updates``)"""

    def add(self, session: ServerSession) -> None:
        self._listening[session] = {}
        if session.identity is not None:
            self.users.setdefault(session.identity.name, {})[session] = None

    def remove(self, session: ServerSession) -> None:
        self._listening.pop(session, None)
        user = session.identity.name if session.identity is not None else None
        sessions = self.users.get(user) if user is not None else None
        if user is not None and sessions is not None:
            sessions.pop(session, None)
            if not sessions:
                del self.users[user]

    def subscribe(self, session: ServerSession, sub_id: str, destination: str) -> str | None:
        """For a SUBSCRIBE to a user destination, the broker destination to subscribe to
        instead (None if ``destination`` is not one)."""
        rest = strip_prefix(destination, (self.prefix,))
        if rest is None:
            return None
        target = "/" + rest
        if strip_prefix(target, self.broker_prefixes) is None:
            raise BrokerError(
                "invalid user destination",
                f"{destination} must name a broker destination after {self.prefix}, "
                f"as {self.prefix}/queue/updates",
            )
        self._listening.setdefault(session, {})[sub_id] = target
        return self._resolve(session, target)

    def unsubscribe(self, session: ServerSession, sub_id: str) -> None:
        self._listening.get(session, {}).pop(sub_id, None)

    def shown(self, session: ServerSession, frame: Frame) -> Frame:
        """A MESSAGE from a relayed broker, with the user destination it was subscribed
        as (the broker knows only the private one)."""
        if frame.command == "MESSAGE":
            target = self._listening.get(session, {}).get(frame.get("subscription") or "")
            if target is not None:
                return frame.with_headers([("destination", self.prefix + target)])
        return frame

    def send(
        self,
        user: str,
        destination: str,
        payload: Any,
        headers: Mapping[str, str] | None,
        only: ServerSession | None = None,
    ) -> None:
        """To ``destination`` (``/queue/x``) of each session of ``user`` (or ``only``)
        that subscribed to it; sessions that did not get nothing, so nothing piles up."""
        sessions = (only,) if only is not None else tuple(self.users.get(user, ()))
        for session in sessions:
            listening = self._listening.get(session)
            if listening is not None and destination in listening.values():
                self.template.publish(self._resolve(session, destination), payload, headers)

    def send_to_own(
        self,
        session: ServerSession,
        destination: str,
        payload: Any,
        headers: Mapping[str, str] | None,
        broadcast: bool,
    ) -> None:
        """To the user of ``session``: all its sessions, or with ``broadcast`` False (or
        for an anonymous session, reachable through itself only) this one."""
        identity = session.identity
        if broadcast and identity is not None:
            self.send(identity.name, destination, payload, headers)
        else:
            self.send("", destination, payload, headers, only=session)

    def send_from_client(self, session: ServerSession, frame: Frame, destination: str) -> None:
        """A client's SEND to ``/user/<name>/queue/x``: to that user's sessions that
        subscribed to it, with the headers the broker vouches for."""
        rest = strip_prefix(destination, (self.prefix,)) or ""
        user, _, target = rest.partition("/")
        if not user or not target:
            raise BrokerError(
                "invalid user destination",
                f"{destination}: send to {self.prefix}/<user>/queue/<name>",
            )
        identity = session.identity
        own = vouched_headers(frame.headers, identity.name if identity else None, BROKER_HEADERS)
        self.send(user, "/" + target, frame.body, dict(reversed(own)))  # first of a repeat wins
        session.send_receipt(frame)

    def _resolve(self, session: ServerSession, destination: str) -> str:
        """``/queue/updates`` of one session -> the broker destination behind it, which
        only that session may subscribe to (the broker refuses everyone else) and whose
        messages show ``/user/queue/updates``."""
        assert session.session is not None
        resolved = f"{destination}{PRIVATE_MARKER}{session.session.id}"
        self.broker.reserve(resolved, session.session, self.prefix + destination)
        return resolved
