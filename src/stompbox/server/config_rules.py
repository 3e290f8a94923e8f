"""What each key of ``[server]``, ``[limits]``, ``[connect_limits]``, ``[broker]`` and
``[security]`` accepts, and the check that names the section, the key, the value and what
is allowed when a value is not that.

The type comes from the dataclass field's annotation; the range of a number from
:data:`INT_RANGES` (an integer not listed there must be at least 1) or, for a float, above
0. TOML has no null, so ``None`` passes only where the annotation allows it (code that
builds a config, or ``Limits``' "no limit")."""

from __future__ import annotations

import enum
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from stompbox.broker.memory import parse_size

__all__ = ["INT_RANGES", "STRING_CHOICES", "ConfigError", "check_section"]


class ConfigError(ValueError):
    """The configuration file or an option is wrong; the message says which and why."""


INT_RANGES: dict[str, tuple[int, int | None, str]] = {
    "port": (0, 65535, "0: any free port"),
    "ws_port": (0, 65535, "0 turns WebSocket off"),
    "tls_port": (0, 65535, "0 turns STOMP over TLS off"),
    "http_port": (0, 65535, "0 turns it off"),
    "heartbeat_required": (0, None, "0 turns it off"),
    "max_redeliveries": (0, None, "0 dead-letters at the first NACK"),
    "max_transactions": (0, None, "0 turns transactions off"),
}
"""Integers that may be 0 or have a ceiling: key -> (least, most, what 0 means)."""

STRING_CHOICES: dict[str, tuple[str, ...]] = {
    "tls_client_cert": ("optional", "required"),
    "separator": ("/", "."),
}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # SecurityConfig names AccessRule only for type checkers; its ``acl`` is not a key.
    return typing.get_type_hints(cls, localns={"AccessRule": object})


def check_section(
    section: str, cls: type, values: Mapping[str, Any], where: str = ""
) -> dict[str, Any]:
    """``values`` with each checked against ``cls``'s field of that name (and an enum's
    value turned into its member, a list of two into a tuple)."""
    hints = _hints(cls)
    return {
        key: _check(f"{where}[{section}] {key}", key, v, hints[key]) for key, v in values.items()
    }


def _check(name: str, key: str, value: Any, hint: Any) -> Any:
    def refuse(allowed: str) -> ConfigError:
        return ConfigError(f"{name} = {_shown(value)}: expected {allowed}")

    if isinstance(hint, types.UnionType):  # X | None
        if value is None and type(None) in hint.__args__:
            return None
        (hint,) = (arg for arg in hint.__args__ if arg is not type(None))
    if key == "memory_budget":  # bytes, or a size such as "256MiB"
        allowed = "a number of bytes of at least 1 or a size such as '256MiB'"
        if isinstance(value, str):
            try:
                value = parse_size(value, key)
            except ValueError:
                raise refuse(allowed) from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise refuse(allowed)
        return value
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise refuse("true or false")
    elif hint is int:
        least, most, zero = INT_RANGES.get(key, (1, None, ""))
        if most is not None:
            allowed = f"an integer {least}-{most}"
        else:
            allowed = f"an integer of at least {least}"
        if zero:
            allowed += f" ({zero})"
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse(allowed)
        if value < least or (most is not None and value > most):
            raise refuse(allowed)
    elif hint is float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise refuse("a number of seconds above 0")
    elif hint is str:
        choices = STRING_CHOICES.get(key)
        if choices is not None and value not in choices:
            raise refuse("one of " + ", ".join(repr(c) for c in choices))
        if not isinstance(value, str):
            raise refuse("a string")
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _member(hint, value, name)
    elif origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise refuse('a list of strings, as ["a", "b"]')
    elif origin is tuple:  # heartbeat: (send, receive)
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        ):
            raise refuse("two integers of at least 0 (ms), as [10000, 10000]")
        return tuple(value)
    elif origin is dict and typing.get_args(hint)[1] is int:  # queue_ttl: {"/queue/a" = 5}
        allowed = 'a table of queue names and milliseconds of at least 1, as { "/queue/a" = 60000 }'
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for k, v in value.items()
        ):
            raise refuse(allowed)
        return dict(value)
    elif origin is dict:  # prefixes: {"/topic/" = "topic"}
        kind = typing.get_args(hint)[1]
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise refuse('a table such as { "/topic/" = "topic", "/queue/" = "queue" }')
        return {prefix: _member(kind, v, f"{name} {prefix!r}") for prefix, v in value.items()}
    return value


def _member(kind: type[enum.Enum], value: Any, name: str) -> enum.Enum:
    if isinstance(value, kind):
        return value
    for member in kind:
        if member.value == value:
            return member
    choices = ", ".join(repr(member.value) for member in kind)
    raise ConfigError(f"{name} = {_shown(value)}: expected one of {choices}")


def _shown(value: Any) -> str:
    """``value`` as the TOML file had it, near enough: ``true``, not ``True``."""
    return str(value).lower() if isinstance(value, bool) else repr(value)
