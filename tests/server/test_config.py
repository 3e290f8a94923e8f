"""The TOML file's values: each of the wrong type or out of range is refused with the
section, the key, the value and what is allowed; the values that are allowed load."""

from __future__ import annotations

from typing import Any

import pytest

from stompbox.broker.config import DestinationKind, SlowConsumerPolicy
from stompbox.server.config import SECTIONS, ConfigError, ServerConfig


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"server": {"port": "abc"}}, "[server] port = 'abc': expected an integer 0-65535"),
        ({"server": {"port": 61613.0}}, "[server] port = 61613.0: expected an integer 0-65535"),
        ({"server": {"port": True}}, "[server] port = true: expected an integer 0-65535"),
        ({"server": {"port": 65536}}, "[server] port = 65536: expected an integer 0-65535"),
        ({"server": {"ws_port": -1}}, "[server] ws_port = -1: expected an integer 0-65535 (0"),
        ({"server": {"host": 127}}, "[server] host = 127: expected a string"),
        ({"server": {"ws_path": ["/ws"]}}, "[server] ws_path = ['/ws']: expected a string"),
        ({"server": {"sockjs": "yes"}}, "[server] sockjs = 'yes': expected true or false"),
        ({"server": {"sockjs": 1}}, "[server] sockjs = 1: expected true or false"),
        (
            {"server": {"connect_timeout": 0}},
            "[server] connect_timeout = 0: expected a number of seconds above 0",
        ),
        (
            {"server": {"frame_timeout": False}},
            "[server] frame_timeout = false: expected a number of seconds above 0",
        ),
        (
            {"server": {"shutdown_grace": float("nan")}},
            "[server] shutdown_grace = nan: expected a number of seconds above 0",
        ),
        ({"server": {"heartbeat": 10000}}, "[server] heartbeat = 10000: expected two integers"),
        ({"server": {"heartbeat": [1, -1]}}, "[server] heartbeat = [1, -1]: expected two"),
        ({"server": {"heartbeat": [1.5, 0]}}, "[server] heartbeat = [1.5, 0]: expected two"),
        (
            {"server": {"heartbeat_required": -1}},
            "[server] heartbeat_required = -1: expected an integer of at least 0 (0 turns",
        ),
        (
            {"server": {"max_connections": 0}},
            "[server] max_connections = 0: expected an integer of at least 1",
        ),
        (
            {"server": {"outbound_buffer": 1024.5}},
            "[server] outbound_buffer = 1024.5: expected an integer of at least 1",
        ),
        (
            {"server": {"virtual_hosts": "/"}},
            "[server] virtual_hosts = '/': expected a list of strings",
        ),
        ({"server": {"virtual_hosts": [1]}}, "[server] virtual_hosts = [1]: expected a list"),
        (
            {"limits": {"max_body_size": -1}},
            "[limits] max_body_size = -1: expected an integer of at least 1",
        ),
        ({"limits": {"max_headers": 0}}, "[limits] max_headers = 0: expected an integer of"),
        (
            {"connect_limits": {"max_frame_size": "16KiB"}},
            "[connect_limits] max_frame_size = '16KiB': expected an integer of at least 1",
        ),
        (
            {"broker": {"slow_consumer_policy": "drop"}},
            "[broker] slow_consumer_policy = 'drop': expected one of 'drop-oldest', "
            "'drop-newest', 'disconnect'",
        ),
        (
            {"broker": {"prefixes": {"/topic/": "topics"}}},
            "[broker] prefixes '/topic/' = 'topics': expected one of 'topic', 'queue'",
        ),
        ({"broker": {"prefixes": ["/topic/"]}}, "[broker] prefixes = ['/topic/']: expected a"),
        ({"broker": {"separator": ":"}}, "[broker] separator = ':': expected one of '/', '.'"),
        (
            {"broker": {"queue_max_messages": 0}},
            "[broker] queue_max_messages = 0: expected an integer of at least 1",
        ),
        (
            {"broker": {"max_redeliveries": -1}},
            "[broker] max_redeliveries = -1: expected an integer of at least 0",
        ),
        (
            {"broker": {"memory_budget": "lots"}},
            "[broker] memory_budget = 'lots': expected a number of bytes of at least 1 or a size",
        ),
        ({"broker": {"memory_budget": 0}}, "[broker] memory_budget = 0: expected a number"),
        ({"broker": {"memory_grace": "30s"}}, "[broker] memory_grace = '30s': expected a number"),
        ({"broker": {"store": 1}}, "[broker] store = 1: expected a string"),
        ({"security": {"anonymous": "false"}}, "[security] anonymous = 'false': expected true"),
        ({"security": {"jwt_algorithms": "HS256"}}, "[security] jwt_algorithms = 'HS256'"),
    ],
)
def test_a_bad_value_names_section_key_value_and_what_is_allowed(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig.from_dict(data, source="config.toml")
    assert str(info.value).startswith(f"config.toml: {message}")


def test_a_bad_access_rule_names_the_file_once() -> None:
    with pytest.raises(ConfigError) as info:
        rule = {"who": "alice", "actions": "send", "destinations": "/queue/a"}
        ServerConfig.from_dict({"acl": [rule]}, source="config.toml")
    assert str(info.value).startswith("config.toml: [[acl]] rule 1: who: unknown who 'alice'")


def test_a_section_is_not_a_key_of_server() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[server\]: limits"):
        ServerConfig.from_dict({"server": {"limits": {"max_body_size": 1}}})
    with pytest.raises(ConfigError, match=r"config: \[limits\] must be a table, not 5"):
        ServerConfig.from_dict({"limits": 5})


def test_the_values_allowed_load() -> None:
    config = ServerConfig.from_dict(
        {
            "server": {
                "port": 0,
                "ws_port": 0,
                "tls_port": 0,
                "heartbeat": [0, 0],
                "heartbeat_required": 0,
                "connect_timeout": 1,
                "frame_timeout": 0.5,
                "sockjs": False,
                "virtual_hosts": ["/"],
                "server_name": "broker",
            },
            "limits": {"max_body_size": 1, "max_headers": 1},
            "broker": {
                "prefixes": {"/exchange/": "topic", "/queue/": "queue"},
                "slow_consumer_policy": "disconnect",
                "max_redeliveries": 0,
                "max_transactions": 0,
                "memory_budget": "1MiB",
            },
            "security": {"anonymous": True},
        }
    )
    assert config.heartbeat == (0, 0)
    assert config.limits.max_body_size == 1
    assert config.broker.prefixes["/exchange/"] is DestinationKind.TOPIC
    assert config.broker.slow_consumer_policy is SlowConsumerPolicy.DISCONNECT
    assert config.broker.memory_budget == 1024 * 1024
    assert config.security.anonymous is True


def test_an_option_out_of_range_is_refused_too() -> None:
    """What the command line (or code) gives is checked as the file's values are."""
    with pytest.raises(ConfigError, match=r"\[server\] port = 70000: expected an integer"):
        ServerConfig.from_dict({}, port=70000)
    config = ServerConfig()
    config.broker.max_subscriptions = 0
    with pytest.raises(ConfigError, match=r"\[broker\] max_subscriptions = 0"):
        config.validate()


@pytest.mark.parametrize("section", ["server", "limits", "connect_limits", "broker", "security"])
def test_every_default_is_allowed(section: str) -> None:
    """The rules and the defaults agree: a file that sets each key to its default loads."""
    default = ServerConfig()
    holder: Any = {
        "server": default,
        "limits": default.limits,
        "connect_limits": default.connect_limits,
        "broker": default.broker,
        "security": default.security,
    }[section]
    values = {
        key: getattr(holder, key) for key in SECTIONS[section] if getattr(holder, key) is not None
    }
    if section == "broker":
        values["prefixes"] = {p: k.value for p, k in values["prefixes"].items()}
        values["slow_consumer_policy"] = values["slow_consumer_policy"].value
    if section == "server":
        values["heartbeat"] = list(values["heartbeat"])
    ServerConfig.from_dict({section: values})
