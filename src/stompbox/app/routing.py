"""Destination patterns and the routes that hold handlers: data first, decorators as sugar.

A pattern is matched against a destination with the application prefix removed, segment
by segment at the separator (``/`` or ``.``): ``*`` is one segment, ``**`` any number, and
``{name}`` one segment captured as a variable (Spring's ``@DestinationVariable``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .params import Signature

__all__ = ["MessageRoute", "Pattern", "Router", "SubscribeRoute"]

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Pattern:
    """A compiled destination pattern; literal patterns are matched with a dict lookup."""

    __slots__ = ("literal", "regex", "text", "variables")

    def __init__(self, text: str, separator: str = "/") -> None:
        self.text = text.strip("/")
        segments = self.text.split(separator)
        self.variables: list[str] = []
        parts: list[str] = []
        literal = True
        sep = re.escape(separator)
        for segment in segments:
            if segment == "**":
                parts.append(f"(?:[^{sep}]*(?:{sep}[^{sep}]*)*)")
                literal = False
            elif segment == "*":
                parts.append(f"[^{sep}]+")
                literal = False
            else:
                pieces: list[str] = []
                last = 0
                for match in _VARIABLE.finditer(segment):
                    pieces.append(re.escape(segment[last : match.start()]))
                    pieces.append(f"(?P<{match.group(1)}>[^{sep}]+)")
                    self.variables.append(match.group(1))
                    last = match.end()
                    literal = False
                pieces.append(re.escape(segment[last:]))
                parts.append("".join(pieces))
        self.literal = literal
        self.regex = re.compile(sep.join(parts) + r"\Z") if not literal else None

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
