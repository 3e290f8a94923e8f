"""User destinations: ``/user/queue/x`` reaches every session of one user, through a
broker destination private to each session (Spring's ``UserDestinationResolver``)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from stompbox.broker import Broker, BrokerError
from stompbox.broker.message import BROKER_HEADERS, vouched_headers
from stompbox.protocol import Frame
from stompbox.relay.frames import PRIVATE_QUEUE_HEADERS, from_broker, private_queue_headers
from stompbox.relay.names import private_name
from stompbox.relay.session import NOTICE_PREFIX
from stompbox.relay.users import LocalUsers
from stompbox.server.session import ServerSession

from .conversion import encode_payload
from .template import Template

__all__ = ["PRIVATE_MARKER", "UserDestinations", "strip_prefix"]

PRIVATE_MARKER = "-user"
"""What joins a user destination to its session's id in the broker destination behind it
(``/queue/updates-user<id>``, Spring's naming); the broker keeps such names private."""


USER_HEADER = "stompbox-user"
TARGET_HEADER = "stompbox-user-destination"
"""Headers of a user message broadcast to the other instances: whose, and where."""
_notices = itertools.count(1)


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
            self._changed(session)

    def _changed(self, session: ServerSession) -> None:
        relay = self.template.relay
        if relay is not None and session.identity is not None:
            relay.users_changed()

    def local_users(self) -> LocalUsers:
        """This instance's part of the registry the relayed instances share."""
        return {
            user: {
                session.session.id: sorted(set(self._listening.get(session, {}).values()))
                for session in sessions
                if session.session is not None
            }
            for user, sessions in self.users.items()
        }

    def remove(self, session: ServerSession) -> None:
        self._listening.pop(session, None)
        user = session.identity.name if session.identity is not None else None
        sessions = self.users.get(user) if user is not None else None
        if user is not None and sessions is not None:
            sessions.pop(session, None)
            if not sessions:
                del self.users[user]
            self._changed(session)

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
        self._changed(session)
        return self._resolve(session, target)

    def unsubscribe(self, session: ServerSession, sub_id: str) -> None:
        if self._listening.get(session, {}).pop(sub_id, None) is not None:
            self._changed(session)

    def tell(self, session: ServerSession, destination: str, text: str, **headers: str) -> None:
        """A notice from stompbox itself (the relayed broker went or came back) to the
        session's subscriptions to ``destination`` (``/queue/errors``), written directly:
        it must not need the broker it is about."""
        for sub_id, target in self._listening.get(session, {}).items():
            if target == destination:
                notice = f"{NOTICE_PREFIX}{next(_notices)}"
                out = [
                    ("destination", self.prefix + target),
                    ("subscription", sub_id),
                    ("message-id", notice),
                    ("ack", notice),
                    ("content-type", "text/plain;charset=utf-8"),
                    *headers.items(),
                ]
                session.write_frame(Frame("MESSAGE", tuple(out), text.encode()))

    def shown(self, session: ServerSession, frame: Frame) -> Frame:
        """A MESSAGE from a relayed broker, with the user destination it was subscribed
        as (the broker knows only the private one)."""
        if frame.command == "MESSAGE":
            frame = from_broker(frame)
            target = self._listening.get(session, {}).get(frame.get("subscription") or "")
            if target is not None:
                shown = [(n, v) for n, v in frame.headers if n not in PRIVATE_QUEUE_HEADERS]
                shown.insert(0, ("destination", self.prefix + target))
                return Frame("MESSAGE", tuple(shown), frame.body)
        return frame

    def private_headers(self, resolved: str) -> tuple[tuple[str, str], ...]:
        """What a SUBSCRIBE or SEND to a private broker queue carries through a relay."""
        relay = self.template.relay
        if relay is None or not resolved.startswith("/queue/"):
            return ()
        return private_queue_headers(relay.settings.private_queue_expires)

    def _publish_private(
        self, resolved: str, payload: Any, headers: Mapping[str, str] | None
    ) -> None:
        extra = self.private_headers(resolved)
        if extra:
            headers = {**(headers or {}), **dict(extra)}
        self.template.publish(resolved, payload, headers)

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
                self._publish_private(self._resolve(session, destination), payload, headers)
        relay = self.template.relay
        if relay is None or only is not None or not user:
            return
        # the user's sessions on the other instances relaying to the same broker
        for sid in relay.remote_sessions(user, destination):
            self._publish_private(self._private(destination, sid), payload, headers)
        if not sessions and not relay.known_elsewhere(user):
            body, content_type = encode_payload(payload)
            out = [(USER_HEADER, user), (TARGET_HEADER, destination)]
            if content_type:
                out.append(("content-type", content_type))
            out.extend((headers or {}).items())
            relay.broadcast(Frame("SEND", tuple(out), body))

    def from_broadcast(self, frame: Frame) -> None:
        """A user message another instance broadcast: to the user's sessions here."""
        user, destination = frame.get(USER_HEADER), frame.get(TARGET_HEADER)
        if not user or not destination:
            return
        drop = BROKER_HEADERS | {USER_HEADER, TARGET_HEADER, "stompbox-origin"}
        kept = [h for h in from_broker(frame).headers if h[0] not in drop]
        for session in tuple(self.users.get(user, ())):
            if destination in self._listening.get(session, {}).values():
                self._publish_private(self._resolve(session, destination), frame.body, dict(kept))

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
        resolved = self._private(destination, session.session.id)
        self.broker.reserve(resolved, session.session, self.prefix + destination)
        return resolved

    def _private(self, destination: str, session_id: str) -> str:
        if self.template.relay is not None:  # a name no client can reach on that broker
            return private_name(destination, session_id)
        return f"{destination}{PRIVATE_MARKER}{session_id}"
