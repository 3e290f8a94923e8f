"""docs/configuration.md names every key of every section and every ``stompbox serve``
option, read from the dataclasses and the parser themselves, so that the page cannot
drift from them; and its example's values are ones the server accepts."""

from __future__ import annotations

import argparse
import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from stompbox.broker.config import BrokerConfig
from stompbox.cli.serve import add_serve_command
from stompbox.protocol.parser import Limits
from stompbox.relay import RelaySettings
from stompbox.security.config import SecurityConfig
from stompbox.server.config import SECTIONS, ServerConfig
from stompbox.server.config_rules import check_section

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
CLASSES: dict[str, type] = {
    "server": ServerConfig,
    "limits": Limits,
    "connect_limits": Limits,
    "broker": BrokerConfig,
    "security": SecurityConfig,
}


def example() -> dict[str, Any]:
    """The page's first ```toml block: the one that shows every key."""
    match = re.search(r"^```toml\n(.*?)^```", PAGE.read_text(), re.DOTALL | re.MULTILINE)
    assert match is not None, "docs/configuration.md has no ```toml block"
    return tomllib.loads(match.group(1))


def serve_options() -> list[str]:
    commands = argparse.ArgumentParser().add_subparsers()
    add_serve_command(commands)
    serve = commands.choices["serve"]
    return [
        option
        for action in serve._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


@pytest.mark.parametrize("section", [*SECTIONS, "relay"])
def test_the_example_shows_every_key_of_each_section(section: str) -> None:
    if section == "relay":
        keys = {f.name for f in dataclasses.fields(RelaySettings)}
    else:
        keys = set(SECTIONS[section])
    shown = set(example().get(section, {}))
    assert not keys - shown, f"docs/configuration.md's [{section}] leaves out {keys - shown}"
    assert not shown - keys, f"docs/configuration.md's [{section}] shows unknown {shown - keys}"


def test_the_example_shows_users_and_acl() -> None:
    assert {"users", "acl"} <= set(example())


@pytest.mark.parametrize("section", SECTIONS)
def test_the_example_values_are_allowed(section: str) -> None:
    check_section(section, CLASSES[section], example()[section])


def test_the_example_relay_settings_are_allowed() -> None:
    RelaySettings.from_dict(example()["relay"], "docs/configuration.md")


@pytest.mark.parametrize("option", serve_options())
def test_every_serve_option_is_documented(option: str) -> None:
    assert re.search(rf"`{re.escape(option)}\b", PAGE.read_text()), (
        f"docs/configuration.md does not mention `stompbox serve {option}`"
    )


def test_the_options_are_found() -> None:
    """The parser is read as expected: the options issue 16 found missing are in it."""
    assert {"--ws-port", "--ws-path", "--app", "--relay", "--config"} <= set(serve_options())
