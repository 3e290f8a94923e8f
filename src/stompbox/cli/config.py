"""``stompbox config --print``: the configuration ``stompbox serve`` would run with, the
file's values over the defaults, as TOML it would read back. Secrets are not printed."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import sys
from typing import Any

from stompbox.server.config import ConfigError, ServerConfig

__all__ = ["add_config_command", "effective_toml"]

_SECRETS = frozenset({"jwt_secret", "users"})
_SECTIONS = ("limits", "connect_limits", "broker", "security", "relay")


def effective_toml(config: ServerConfig) -> str:
    """``config`` as TOML: every key, defaults included; secrets left out (named)."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    lines = ["[server]"]
    lines += _table({k: v for k, v in values.items() if k not in _SECTIONS})
    for section in _SECTIONS[:4]:
        lines += ["", f"[{section}]"]
        lines += _table(_fields(values[section]))
    rules = config.security.acl
    if rules:
        lines += ["", f"# {len(rules)} [[acl]] rule(s), as the file gives them"]
    if config.relay is not None:
        lines += ["", "[relay]", *_table(config.relay)]
    return "\n".join(lines) + "\n"


def _fields(value: Any) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _table(values: dict[str, Any]) -> list[str]:
    out = []
    for key, value in values.items():
        if key in _SECRETS and value:
            out.append(f"# {key} is set (not printed)")
        elif key == "acl":
            continue
        elif value is None:
            out.append(f"# {key} is not set")
        else:
            out.append(f"{key} = {_value(value)}")
    return out


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _value(value.value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
        )
    return json.dumps(str(value))


def _config(args: argparse.Namespace) -> int:
    try:
        if args.config is not None:
            config = ServerConfig.from_toml(args.config)
        else:
            config = ServerConfig.from_dict({})
        config.validate()
    except ConfigError as exc:
        print(f"stompbox config: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(effective_toml(config))
    return 0


def add_config_command(commands: Any) -> None:
    parser = commands.add_parser(
        "config",
        help="print the effective configuration (the file over the defaults)",
        description=__doc__,
    )
    parser.add_argument("--config", metavar="FILE", help="the TOML file serve would read")
    parser.add_argument(
        "--print",
        action="store_true",
        required=True,
        help="print every key with its effective value, as TOML",
    )
    parser.set_defaults(func=_config)
