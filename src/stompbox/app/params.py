"""What a handler asks for, read once from its signature at registration.

Parameters are filled by name and annotation, as Spring's argument resolvers do:
template variables by their name, ``headers``, ``session``, ``principal``,
``destination``, a raw ``Frame``, the exception in an exception handler, one header by
annotation (``trace: Annotated[str, Header("x-trace")]``, Spring's ``@Header``), and the
payload (by the name ``payload``, or the one parameter left), converted to its annotation.
A value that does not convert (a header, a variable, the principal) raises
:class:`ConversionError` naming it, which the app reports to the sender as it reports a
payload that does not convert.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from stompbox.protocol import Frame
from stompbox.server.session import ServerSession

from .conversion import ConversionError, convert, decode_payload

__all__ = ["Context", "Header", "Signature"]


@dataclass(frozen=True, slots=True)
class Header:
    """Fill a parameter with one header of the frame (the first, if it repeats):
    ``trace: Annotated[str, Header("x-trace")]``. The header is required unless the
    parameter has a default or its type admits ``None``; its text converts to ``int``,
    ``float`` or ``bool`` when annotated so."""

    name: str


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
            hints = typing.get_type_hints(handler, include_extras=True)
        except Exception:  # unresolvable annotations: fall back to names only
            hints = {}
        self.resolvers: list[tuple[str, Resolver]] = []
        params = list(inspect.signature(handler).parameters.values())
        payload_taken = False
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            name = param.name
            annotation, header = _unwrap(hints.get(name, Any))
            if header is not None:
                self.resolvers.append((name, _header(header.name, annotation, param.default)))
                continue
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
            return _principal(annotation)
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
        return _from_text(ctx.variables[name], annotation, f"template variable {name}")

    return resolve


def _header(name: str, annotation: Any, default: Any) -> Resolver:
    if default is inspect.Parameter.empty and _admits_none(annotation):
        default = None
    required = default is inspect.Parameter.empty

    def resolve(ctx: Context) -> Any:
        value = ctx.frame.get(name)
        if value is None:
            if required:
                raise ConversionError(f"header {name} is missing")
            return default
        return _from_text(value, annotation, f"header {name}")

    return resolve


def _principal(annotation: Any) -> Resolver:
    """The principal as the authenticator returned it, or as its name (``str``), or its
    name converted (``int``); one that is not the annotated class does not convert."""
    target = _without_none(annotation)

    def resolve(ctx: Context) -> Any:
        principal = ctx.principal
        if principal is None or target in (Any, object):
            return principal
        if target in (str, int, float, bool):
            return _from_text(str(principal), target, "principal")
        if isinstance(target, type):
            try:
                fits = isinstance(principal, target)
            except TypeError:  # a Protocol that is not runtime-checkable: trust it
                fits = True
            if not fits:
                raise ConversionError(
                    f"principal is a {type(principal).__name__}, not a {target.__name__}"
                )
        return principal

    return resolve


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _from_text(value: str, annotation: Any, what: str) -> Any:
    """Text (a header, a template variable, a principal's name) as ``annotation``."""
    target = _without_none(annotation)
    if target in (Any, str, object):
        return value
    if target in (int, float):
        try:
            return target(value)
        except ValueError:
            raise ConversionError(f"{what}={value!r} is not a {target.__name__}") from None
    if target is bool:
        lowered = value.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ConversionError(f"{what}={value!r} is not a bool")
    try:
        return convert(value, annotation)
    except ConversionError as exc:
        raise ConversionError(f"{what}={value!r}: {exc}") from None


def _unwrap(annotation: Any) -> tuple[Any, Header | None]:
    """``Annotated[T, ...]`` -> ``T`` and the :class:`Header` among its metadata."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation, None
    base, *metadata = typing.get_args(annotation)
    header = next((m for m in metadata if isinstance(m, Header)), None)
    return base, header


def _admits_none(annotation: Any) -> bool:
    return annotation is None or (
        typing.get_origin(annotation) in (typing.Union, types.UnionType)
        and type(None) in typing.get_args(annotation)
    )


def _without_none(annotation: Any) -> Any:
    """``T | None`` -> ``T``; anything else as it is."""
    if not _admits_none(annotation) or annotation is None:
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else annotation


def _describe(handler: Callable[..., Any]) -> str:
    return getattr(handler, "__qualname__", repr(handler))
