"""What a handler asks for, read once from its signature at registration.

Parameters are filled by name and annotation, as Spring's argument resolvers do:
template variables by their name, ``headers``, ``session``, ``principal``,
``destination``, a raw ``Frame``, the exception in an exception handler, and the payload
(by the name ``payload``, or the one parameter left), converted to its annotation.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stompbox.protocol import Frame
from stompbox.server.session import ServerSession

from .conversion import ConversionError, convert, decode_payload

__all__ = ["Context", "Signature"]


@dataclass(slots=True)
class Context:
    """Everything a handler parameter can be filled from."""

    frame: Frame
    destination: str
    variables: dict[str, str]
    session: Any
    principal: Any
    exception: BaseException | None = None


Resolver = Callable[[Context], Any]

_KNOWN_NAMES = {"headers", "session", "principal", "destination", "frame", "payload"}


class Signature:
    """The resolvers for one handler, in parameter order."""

    def __init__(self, handler: Callable[..., Any], variables: list[str]) -> None:
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        try:
            hints = typing.get_type_hints(handler)
        except Exception:  # unresolvable annotations: fall back to names only
            hints = {}
        self.resolvers: list[tuple[str, Resolver]] = []
        params = list(inspect.signature(handler).parameters.values())
        payload_taken = False
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            name = param.name
            annotation = hints.get(name, Any)
            resolver = self._resolver(name, annotation, variables)
            if resolver is None:
                if payload_taken:
                    raise TypeError(
                        f"{_describe(handler)}: cannot tell what to pass as {name!r}; "
                        f"name it after a template variable ({', '.join(variables) or 'none'}) "
                        f"or one of {', '.join(sorted(_KNOWN_NAMES))}"
                    )
                resolver = _payload(annotation)
                payload_taken = True
            elif name == "payload":
                payload_taken = True
            self.resolvers.append((name, resolver))

    @staticmethod
    def _resolver(name: str, annotation: Any, variables: list[str]) -> Resolver | None:
        if name in variables:
            return _variable(name, annotation)
        if annotation is Frame or name == "frame":
            return lambda ctx: ctx.frame
        if name == "headers":
            return lambda ctx: dict(reversed(ctx.frame.headers))
        if name == "session" or annotation is ServerSession:
            return lambda ctx: ctx.session
        if name == "principal":
            if annotation is str:  # the name, whatever object the authenticator returned
                return lambda ctx: None if ctx.principal is None else str(ctx.principal)
            return lambda ctx: ctx.principal
        if name == "destination":
            return lambda ctx: ctx.destination
        if name in ("exc", "exception", "error") or (
            isinstance(annotation, type) and issubclass(annotation, BaseException)
        ):
            return lambda ctx: ctx.exception
        if name == "payload":
            return _payload(annotation)
        return None

    def arguments(self, ctx: Context) -> dict[str, Any]:
        return {name: resolve(ctx) for name, resolve in self.resolvers}


def _payload(annotation: Any) -> Resolver:
    def resolve(ctx: Context) -> Any:
        return decode_payload(ctx.frame.body, ctx.frame.get("content-type"), annotation)

    return resolve


def _variable(name: str, annotation: Any) -> Resolver:
    def resolve(ctx: Context) -> Any:
        value = ctx.variables[name]
        if annotation in (int, float):
            try:
                return annotation(value)
            except ValueError:
                raise ConversionError(
                    f"template variable {name}={value!r} is not a {annotation.__name__}"
                ) from None
        return convert(value, annotation) if annotation is not Any else value

    return resolve


def _describe(handler: Callable[..., Any]) -> str:
    return getattr(handler, "__qualname__", repr(handler))
