"""Server settings: where to listen, limits, heart-beats, users; loadable from TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from stompbox._version import __version__
from stompbox.broker.config import BrokerConfig
from stompbox.protocol.parser import DEFAULT_LIMITS, Limits
from stompbox.protocol.server import CONNECT_LIMITS
from stompbox.security.acl import rules_from_toml
from stompbox.security.authn import SecurityPolicy
from stompbox.security.config import SecurityConfig
from stompbox.security.origins import OriginPolicy

from .config_rules import ConfigError, check_section

__all__ = ["SECTIONS", "ConfigError", "ServerConfig"]


@dataclass(slots=True)
class ServerConfig:
    """Everything ``stompbox serve`` can be told. Every limit has a finite default.

    What each key accepts is checked by :mod:`stompbox.server.config_rules`: an integer
    must be at least 1 unless its docstring says 0 is allowed, a float (seconds) must be
    above 0, and a value of the wrong type is refused with the key named."""

    host: str = "127.0.0.1"
    """Address to listen on (all transports)."""
    port: int = 61613
    """STOMP over TCP, 0-65535; 0 asks the system for any free port."""
    tcp: bool = True
    """Plain STOMP over TCP on ``port``; ``false`` (``--no-tcp``) leaves STOMP over TLS and
    the WebSocket listener, so that no login or message crosses the network in clear."""
    ws_port: int = 15674
    """WebSocket listener (RabbitMQ Web-STOMP's port), 0-65535; 0 turns it off."""
    ws_path: str = "/ws"
    """The WebSocket endpoint's path; starts with ``/``."""
    http_port: int = 15672
    """The management listener (``/healthz``, ``/readyz``, ``/metrics``) of ``stompbox
    serve``, on ``host``; 0 turns it off."""
    sockjs: bool = True
    """SockJS at ``ws_path`` too (``http://host:ws_port/ws/info``, the fallback transports
    of ``new SockJS(url)``); raw WebSocket stays at ``ws_path`` itself."""
    sockjs_heartbeat: float = 25.0
    """Seconds between SockJS heart-beat frames (``h``) to a receiving request."""
    sockjs_client_url: str = "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js"
    """Where SockJS's ``iframe.html`` loads sockjs-client from (the iframe transports);
    point it at your own copy for networks without the internet or with a strict CSP."""
    sockjs_disconnect_delay: float = 5.0
    """Seconds a SockJS session waits for its client's next receiving request (messages
    queue meanwhile) before it ends, and its STOMP session with it."""
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    limits: Limits = DEFAULT_LIMITS
    """Frames after CONNECT: 16 MiB bodies, 128 headers, 8 KiB header lines."""
    connect_limits: Limits = CONNECT_LIMITS
    """Bytes before a successful CONNECT: 16 KiB."""
    connect_timeout: float = 5.0
    """Seconds a new connection has to send its CONNECT."""
    frame_timeout: float = 30.0
    """Seconds a frame may take to arrive once it has begun, so that a client cannot park
    the server on half a frame."""
    heartbeat: tuple[int, int] = (10_000, 10_000)
    """Heart-beats (send, receive): a 0 turns that direction off; otherwise the client's
    intervals are used, down to ``heartbeat_floor`` (docs/heartbeats.md)."""
    heartbeat_grace: float = 2.0
    """A peer is dead after this many negotiated intervals of silence."""
    heartbeat_floor: int = 1_000
    """No negotiated heart-beat interval is shorter than this (ms)."""
    heartbeat_required: int = 0
    """When set (ms), clients silent for this long times the grace factor are closed even
    if they negotiated no heart-beats; 0 (the default) follows the spec (TCP keep-alive
    still applies)."""
    keepalive_idle: int = 60
    """TCP keep-alive: seconds of silence before probing, so that dead peers of clients
    that negotiate no heart-beats are reclaimed too (about 2 minutes in all)."""
    outbound_buffer: int = 1024 * 1024
    """Bytes a connection may have waiting to be written before it counts as slow."""
    max_connections: int = 65_536
    """Open connections in all (all transports together)."""
    max_connections_per_address: int = 4_096
    """Open connections from one source address (all transports together)."""
    connect_attempts_per_minute: int = 6_000
    """CONNECT frames one source address may send per minute (a bucket that refills
    evenly, so bursts up to it pass); past it, a CONNECT gets an ERROR naming the limit."""
    allowed_origins: list[str] | None = None
    """Web origins (``https://app.example.com``, ``https://*.example.com``, ``*``) whose
    pages may open a WebSocket; None: same-origin only. Handshakes without ``Origin``
    (scripts, stomp.py, native apps) are not affected."""
    tls_cert: str | None = None
    """PEM certificate chain; with ``tls_key``, STOMP over TLS listens on ``tls_port`` and
    the WebSocket listener serves WSS."""
    tls_key: str | None = None
    """PEM private key of ``tls_cert``."""
    tls_ca: str | None = None
    """PEM CA bundle for client certificates: when set, a client certificate is asked
    for and verified (``tls_client_cert`` says whether it is required)."""
    tls_client_cert: str = "optional"
    """With ``tls_ca``: ``optional`` or ``required``."""
    tls_port: int = 61614
    """STOMP over TLS, when ``tls_cert`` is set; 0-65535, 0 turns it off."""
    security: SecurityConfig = field(default_factory=SecurityConfig)
    """Authentication and access rules (``[security]``, ``[users]``, ``[[acl]]``)."""
    virtual_hosts: list[str] | None = None
    """When set, CONNECT's host header must name one of them."""
    shutdown_grace: float = 5.0
    """Seconds to let connections drain on SIGINT/SIGTERM."""
    server_name: str = f"stompbox/{__version__}"
    """CONNECTED's ``server`` header."""
    relay: dict[str, Any] | None = None
    """TOML's ``[relay]`` as written, for :class:`stompbox.relay.RelaySettings` (which
    checks it) when an application starts."""

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> ServerConfig:
        """Load a TOML file with sections ``[server]``, ``[limits]``, ``[broker]``,
        ``[security]``, ``[users]`` and ``[[acl]]`` (see ``docs/configuration.md`` and
        ``docs/security.md``); ``overrides`` win over the file."""
        return cls.from_dict(read_toml(path), source=str(path), **overrides)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], source: str = "config", **overrides: Any
    ) -> ServerConfig:
        unknown = set(data) - {
            "server",
            "limits",
            "connect_limits",
            "broker",
            "security",
            "users",
            "acl",
            "relay",
        }
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
        for name, table in data.items():
            if name != "acl" and not isinstance(table, dict):
                raise ConfigError(f"{source}: [{name}] must be a table, not {table!r}")
        config = cls()
        where = f"{source}: "
        try:
            _check_keys(source, "server", data.get("server", {}))
            server = check_section("server", cls, data.get("server", {}), where)
            config = replace(config, **server)
            if "limits" in data:
                _check_keys(source, "limits", data["limits"])
                limits = check_section("limits", Limits, data["limits"], where)
                config.limits = replace(DEFAULT_LIMITS, **limits)
            if "connect_limits" in data:
                _check_keys(source, "connect_limits", data["connect_limits"])
                limits = check_section("connect_limits", Limits, data["connect_limits"], where)
                config.connect_limits = replace(CONNECT_LIMITS, **limits)
            if "broker" in data:
                _check_keys(source, "broker", data["broker"])
                broker = check_section("broker", BrokerConfig, data["broker"], where)
                config.broker = BrokerConfig(**broker)
            security = dict(data.get("security", {}))
            _check_keys(source, "security", security)
            security = check_section("security", SecurityConfig, security, where)
            if "users" in data:
                security["users"] = {str(k): str(v) for k, v in data["users"].items()}
            if "acl" in data:
                try:
                    security["acl"] = rules_from_toml(data["acl"], source)
                except ValueError as exc:  # names the file itself
                    raise ConfigError(str(exc)) from None
            config.security = SecurityConfig(**security)
            if "relay" in data:
                config.relay = dict(data["relay"])
            config = replace(config, **overrides)
            config.validate()
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"{source}: {exc}") from None
        return config

    def validate(self) -> None:
        """Check every value (its type and range, as from a file) and how they combine."""
        for section, cls, values in (
            ("server", ServerConfig, self),
            ("limits", Limits, self.limits),
            ("connect_limits", Limits, self.connect_limits),
            ("broker", BrokerConfig, self.broker),
        ):
            keys = SECTIONS[section]
            check_section(section, cls, {key: getattr(values, key) for key in keys})
        if not self.ws_path.startswith("/"):
            raise ConfigError(f"ws_path must start with '/', not {self.ws_path!r}")
        try:  # a users file, keys and rules that do not load are a configuration error
            SecurityPolicy(self.security, self.broker.separator, self.broker.prefixes)
        except (OSError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        try:
            OriginPolicy(self.allowed_origins)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"allowed_origins: {exc}") from None
        if self.tls_cert is not None and self.tls_key is None:
            raise ConfigError("tls_cert needs tls_key too (the certificate's private key)")
        if self.tls_key is not None and self.tls_cert is None:
            raise ConfigError("tls_key needs tls_cert too")
        if not self.tcp and not (self.tls_cert is not None and self.tls_port) and not self.ws_port:
            raise ConfigError(
                "tcp = false, and neither TLS (tls_cert, tls_port) nor WebSocket (ws_port) "
                "listens: no client could connect"
            )


def read_toml(path: str | Path) -> dict[str, Any]:
    """A config file's tables as written, before any is checked; a file that cannot be
    read or is not TOML is a :class:`ConfigError` that says which and why."""
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


SECTIONS: dict[str, tuple[str, ...]] = {
    "server": tuple(
        f.name
        for f in fields(ServerConfig)
        if f.name not in ("broker", "limits", "connect_limits", "security", "relay")
    ),
    "limits": tuple(f.name for f in fields(Limits)),
    "connect_limits": tuple(f.name for f in fields(Limits)),
    "broker": tuple(f.name for f in fields(BrokerConfig)),
    "security": tuple(f.name for f in fields(SecurityConfig) if f.name not in ("users", "acl")),
}
"""The keys of each TOML section but ``[users]``, ``[[acl]]`` and ``[relay]`` (whose keys
are :class:`stompbox.relay.RelaySettings`' fields but ``brokers``, and ``brokers``)."""


def _check_keys(source: str, section: str, values: dict[str, Any]) -> None:
    known = set(SECTIONS[section])
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [{section}]: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
