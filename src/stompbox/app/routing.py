"""Destination patterns and the routes that hold handlers: data first, decorators as sugar.

A pattern is matched against a destination with the application prefix removed, segment
by segment at the separator (``/`` or ``.``): ``*`` is one segment, ``**`` (or ``#``) any
number, none included, and ``{name}`` one segment captured as a variable (Spring's
``@DestinationVariable``). A ``*`` inside a segment (``thing*``, or ``price.stock.*``
with ``/``) matches characters of that segment only. Segments match as the broker's
subscriptions do (:func:`stompbox.broker.matching.segment_regex`), so a handler pattern
and a subscription with the same text reach the same destinations.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stompbox.broker.matching import segment_regex

from .params import Signature

__all__ = [
    "ExceptionRoute",
    "MessageRoute",
    "Pattern",
    "Reply",
    "Router",
    "SubscribeRoute",
    "add_reply",
    "replies_of",
]

F = TypeVar("F", bound=Callable[..., Any])

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ANY = ("**", "#")


class Pattern:
    """A compiled destination pattern; literal patterns are matched with a dict lookup."""

    __slots__ = ("literal", "regex", "text", "variables")

    def __init__(self, text: str, separator: str = "/") -> None:
        self.text = text.strip("/")
        segments = self.text.split(separator)
        self.variables: list[str] = []
        regex = ""
        literal = True
        sep = re.escape(separator)
        after_any = False  # the leading ``**`` took the separator after it
        for i, segment in enumerate(segments):
            if segment in _ANY:  # any number of segments, none included
                literal = False
                if i > 0 and segments[i - 1] in _ANY:
                    continue  # ``**/**`` is ``**``
                if i > 0:
                    regex += f"(?:{sep}[^{sep}]*)*"
                elif len(segments) == 1:
                    regex += f"[^{sep}]*(?:{sep}[^{sep}]*)*"
                else:
                    regex += f"(?:[^{sep}]*{sep})*"
                    after_any = True
                continue
            if i > 0 and not after_any:
                regex += sep
            after_any = False
            if segment == "*":
                regex += f"[^{sep}]+"
                literal = False
                continue
            last = 0
            for match in _VARIABLE.finditer(segment):
                regex += segment_regex(segment[last : match.start()], separator)
                regex += f"(?P<{match.group(1)}>[^{sep}]+)"
                self.variables.append(match.group(1))
                last = match.end()
                literal = False
            regex += segment_regex(segment[last:], separator)
            if "*" in segment:
                literal = False
        self.literal = literal
        self.regex = re.compile(regex + r"\Z") if not literal else None

    def match(self, path: str) -> dict[str, str] | None:
        if self.regex is None:
            return {} if path == self.text else None
        found = self.regex.match(path)
        return found.groupdict() if found else None

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


@dataclass(slots=True)
class Reply:
    """Where a handler's return value goes (Spring's ``@SendTo`` / ``@SendToUser``)."""

    destinations: tuple[str, ...] = ()
    to_user: bool = False
    broadcast: bool = True
    """With ``to_user``: every session of the user (True) or the sending one only."""


@dataclass(slots=True)
class MessageRoute:
    """SEND to ``<app prefix><pattern>`` calls ``handler``."""

    pattern: str
    handler: Callable[..., Any]
    reply: Reply | None = None
    roles: frozenset[str] = frozenset()
    """When set, only a principal with one of these roles may call the handler."""
    signature: Signature = field(init=False)
    compiled: Pattern = field(init=False)

    def bind(self, separator: str) -> None:
        self.compiled = Pattern(self.pattern, separator)
        self.signature = Signature(self.handler, self.compiled.variables)


@dataclass(slots=True)
class SubscribeRoute(MessageRoute):
    """SUBSCRIBE to ``<app prefix><pattern>`` is answered once, to that subscriber only."""


@dataclass(slots=True)
class ExceptionRoute:
    """An exception handler as data: exceptions of ``types`` raised by handlers (or by
    payload conversion) go to ``handler``, whose result is routed like a handler's."""

    handler: Callable[..., Any]
    types: tuple[type[BaseException], ...] = (Exception,)
    reply: Reply | None = None
    route: MessageRoute = field(init=False)

    def bind(self, separator: str) -> None:
        self.route = MessageRoute("**", self.handler, reply=self.reply)
        self.route.bind(separator)


class Router:
    """Routes by kind (literal patterns found by dict, the others tried in order), and
    the exception handlers. Also a group of routes (FastAPI's ``APIRouter``, Spring's
    type-level mapping): ``prefix`` goes before each pattern added, and ``reply`` is the
    default of routes that say nothing of where their result goes. Decorators
    (:meth:`message`, :meth:`subscribe`, :meth:`exception_handler`) add routes here."""

    def __init__(
        self,
        routes: Iterable[MessageRoute | ExceptionRoute] = (),
        separator: str = "/",
        *,
        prefix: str = "",
        reply: Reply | None = None,
    ) -> None:
        self.separator = separator
        self.prefix = prefix.strip("/")
        self.reply = reply
        self.routes: list[MessageRoute] = []
        """Every route added, in order."""
        self.exception_routes: list[ExceptionRoute] = []
        self._literal: dict[tuple[bool, str], MessageRoute] = {}
        self._patterns: list[MessageRoute] = []
        for route in routes:
            self.add(route)

    def add(self, route: MessageRoute | ExceptionRoute) -> MessageRoute | ExceptionRoute:
        """Add a route (under this router's prefix, with its default reply)."""
        if isinstance(route, ExceptionRoute):
            route.bind(self.separator)
            self.exception_routes.append(route)
            return route
        if self.prefix:
            route = dataclasses.replace(route, pattern=self._join(self.prefix, route.pattern))
        if self.reply is not None and route.reply is None and not replies_of(route.handler):
            route = dataclasses.replace(route, reply=self.reply)
        route.bind(self.separator)
        self.routes.append(route)
        is_subscribe = isinstance(route, SubscribeRoute)
        if route.compiled.literal:
            self._literal[(is_subscribe, route.compiled.text)] = route
        else:
            self._patterns.append(route)
        return route

    def include(self, router: Router, prefix: str = "") -> None:
        """Add ``router``'s routes and exception handlers, under ``prefix`` too."""
        prefix = prefix.strip("/")
        for route in router.routes:
            if prefix:
                route = dataclasses.replace(route, pattern=self._join(prefix, route.pattern))
            self.add(route)
        for handler in router.exception_routes:
            self.add(handler)

    def _join(self, prefix: str, pattern: str) -> str:
        return f"{prefix}{self.separator}{pattern.strip('/')}"

    # -- decorators: sugar over routes -------------------------------------------------

    def message(self, pattern: str, *, roles: Iterable[str] = ()) -> Callable[[F], F]:
        """``@router.message("/chat/{room}")``: handle SENDs to ``<app prefix>/chat/<room>``;
        with ``roles``, only from a principal that has one of them."""
        return self._decorator(MessageRoute, pattern, roles)

    def subscribe(self, pattern: str, *, roles: Iterable[str] = ()) -> Callable[[F], F]:
        """``@router.subscribe("/rooms")``: answer a SUBSCRIBE once, to that subscriber."""
        return self._decorator(SubscribeRoute, pattern, roles)

    def _decorator(
        self, kind: type[MessageRoute], pattern: str, roles: Iterable[str]
    ) -> Callable[[F], F]:
        def register(handler: F) -> F:
            self.add(kind(pattern, handler, roles=frozenset(roles)))
            return handler

        return register

    def exception_handler(self, *types: type[BaseException]) -> Callable[[F], F]:
        """Handle exceptions of these types raised by handlers (or payload conversion);
        the return value is routed like a handler's (``send_to_user`` works)."""

        def register(handler: F) -> F:
            self.add(ExceptionRoute(handler, types or (Exception,)))
            return handler

        return register

    def find(self, path: str, *, subscribe: bool) -> tuple[MessageRoute, dict[str, str]] | None:
        path = path.strip("/")
        route = self._literal.get((subscribe, path))
        if route is not None:
            return route, {}
        for route in self._patterns:
            if isinstance(route, SubscribeRoute) is subscribe:
                variables = route.compiled.match(path)
                if variables is not None:
                    return route, variables
        return None

    def exception_route(self, exc: BaseException) -> MessageRoute | None:
        """The handler of ``exc``: the first exception route whose types it is one of."""
        for handler in self.exception_routes:
            if isinstance(exc, handler.types):
                return handler.route
        return None


def replies_of(handler: Callable[..., Any]) -> tuple[Reply, ...]:
    """The replies ``@send_to`` and ``@send_to_user`` put on ``handler``, in the order
    they are written."""
    return tuple(getattr(handler, "__stompbox_replies__", ()))


def add_reply(handler: Callable[..., Any], reply: Reply) -> None:
    """Put ``reply`` on ``handler`` before those of decorators below it: decorators apply
    bottom-up, and the replies read top-down."""
    handler.__stompbox_replies__ = (reply, *replies_of(handler))  # type: ignore[attr-defined]
