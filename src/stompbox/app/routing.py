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

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stompbox.broker.matching import segment_regex

from .params import Signature

__all__ = ["MessageRoute", "Pattern", "Router", "SubscribeRoute"]

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


class Router:
    """Routes by kind; literal patterns found by dict, the others tried in order."""

    def __init__(self, routes: Iterable[MessageRoute] = (), separator: str = "/") -> None:
        self.separator = separator
        self._literal: dict[tuple[bool, str], MessageRoute] = {}
        self._patterns: list[MessageRoute] = []
        for route in routes:
            self.add(route)

    def add(self, route: MessageRoute) -> MessageRoute:
        route.bind(self.separator)
        is_subscribe = isinstance(route, SubscribeRoute)
        if route.compiled.literal:
            self._literal[(is_subscribe, route.compiled.text)] = route
        else:
            self._patterns.append(route)
        return route

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
