"""Server settings: where to listen, limits, heart-beats, users; loadable from TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from stompbox._version import __version__
from stompbox.broker.config import BrokerConfig, DestinationKind, SlowConsumerPolicy
from stompbox.protocol.parser import DEFAULT_LIMITS, Limits
from stompbox.protocol.server import CONNECT_LIMITS
from stompbox.security.acl import rules_from_toml
from stompbox.security.authn import SecurityPolicy
from stompbox.security.config import SecurityConfig
from stompbox.security.origins import OriginPolicy

__all__ = ["ConfigError", "ServerConfig"]


class ConfigError(ValueError):
    """The configuration file or an option is wrong; the message says which and why."""


@dataclass(slots=True)
class ServerConfig:
    """Everything ``stompbox serve`` can be told. Every limit has a finite default."""

    host: str = "127.0.0.1"
    port: int = 61613
    ws_port: int = 15674
    """WebSocket listener (RabbitMQ Web-STOMP's port); 0 turns it off."""
    ws_path: str = "/ws"
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
    if they negotiated no heart-beats; 0 follows the spec (TCP keep-alive still applies)."""
    keepalive_idle: int = 60
    """TCP keep-alive: seconds of silence before probing, so that dead peers of clients
    that negotiate no heart-beats are reclaimed too (about 2 minutes in all)."""
    outbound_buffer: int = 1024 * 1024
    """Bytes a connection may have waiting to be written before it counts as slow."""
    max_connections: int = 65_536
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
    tls_ca: str | None = None
    """PEM CA bundle for client certificates: when set, a client certificate is asked
    for and verified (``tls_client_cert`` says whether it is required)."""
    tls_client_cert: str = "optional"
    """With ``tls_ca``: ``optional`` or ``required``."""
    tls_port: int = 61614
    """STOMP over TLS, when ``tls_cert`` is set; 0 turns it off."""
    security: SecurityConfig = field(default_factory=SecurityConfig)
    """Authentication and access rules (``[security]``, ``[users]``, ``[[acl]]``)."""
    virtual_hosts: list[str] | None = None
    """When set, CONNECT's host header must name one of them."""
    shutdown_grace: float = 5.0
    """Seconds to let connections drain on SIGINT/SIGTERM."""
    server_name: str = f"stompbox/{__version__}"
    relay: dict[str, Any] | None = None
    """TOML's ``[relay]`` as written, for :class:`stompbox.relay.RelaySettings` (which
    checks it) when an application starts."""

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> ServerConfig:
        """Load a TOML file with sections ``[server]``, ``[limits]``, ``[broker]``,
        ``[security]``, ``[users]`` and ``[[acl]]`` (see ``docs/configuration.md`` and
        ``docs/security.md``); ``overrides`` win over the file."""
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path), **overrides)

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
        config = cls()
        try:
            server = dict(data.get("server", {}))
            _check_keys(source, "server", server, cls)
            if "heartbeat" in server:
                server["heartbeat"] = tuple(server["heartbeat"])
            config = replace(config, **server)
            if "limits" in data:
                _check_keys(source, "limits", data["limits"], Limits)
                config.limits = replace(DEFAULT_LIMITS, **data["limits"])
            if "connect_limits" in data:
                _check_keys(source, "connect_limits", data["connect_limits"], Limits)
                config.connect_limits = replace(CONNECT_LIMITS, **data["connect_limits"])
            if "broker" in data:
                broker = dict(data["broker"])
                _check_keys(source, "broker", broker, BrokerConfig)
                if "prefixes" in broker:
                    broker["prefixes"] = {
                        prefix: DestinationKind(kind) for prefix, kind in broker["prefixes"].items()
                    }
                if "slow_consumer_policy" in broker:
                    broker["slow_consumer_policy"] = SlowConsumerPolicy(
                        broker["slow_consumer_policy"]
                    )
                config.broker = BrokerConfig(**broker)
            security = dict(data.get("security", {}))
            _check_keys(source, "security", security, SecurityConfig)
            if "users" in data:
                security["users"] = {str(k): str(v) for k, v in data["users"].items()}
            if "acl" in data:
                security["acl"] = rules_from_toml(data["acl"], source)
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
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port must be 0-65535, not {self.port}")
        if not 0 <= self.ws_port < 65536:
            raise ConfigError(
                f"ws_port must be 0-65535 (0 turns WebSocket off), not {self.ws_port}"
            )
        if not self.ws_path.startswith("/"):
            raise ConfigError(f"ws_path must start with '/', not {self.ws_path!r}")
        for name in (
            "connect_timeout",
            "frame_timeout",
            "heartbeat_grace",
            "shutdown_grace",
            "sockjs_heartbeat",
            "sockjs_disconnect_delay",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, not {getattr(self, name)}")
        if not isinstance(self.heartbeat_required, int) or self.heartbeat_required < 0:
            raise ConfigError(
                f"heartbeat_required must be 0 or more, not {self.heartbeat_required!r}"
            )
        for name in (
            "heartbeat_floor",
            "outbound_buffer",
            "max_connections",
            "max_connections_per_address",
            "connect_attempts_per_minute",
            "keepalive_idle",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, not {value!r}")
        try:  # a users file, keys and rules that do not load are a configuration error
            SecurityPolicy(self.security, self.broker.separator, self.broker.prefixes)
        except (OSError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        if len(self.heartbeat) != 2 or min(self.heartbeat) < 0:
            raise ConfigError(f"heartbeat must be two non-negative integers, not {self.heartbeat}")
        try:
            OriginPolicy(self.allowed_origins)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"allowed_origins: {exc}") from None
        if self.tls_cert is not None and self.tls_key is None:
            raise ConfigError("tls_cert needs tls_key too (the certificate's private key)")
        if self.tls_key is not None and self.tls_cert is None:
            raise ConfigError("tls_key needs tls_cert too")
        if self.tls_client_cert not in ("optional", "required"):
            raise ConfigError(
                f"tls_client_cert must be 'optional' or 'required', not {self.tls_client_cert!r}"
            )
        if not 0 <= self.tls_port < 65536:
            raise ConfigError(
                f"tls_port must be 0-65535 (0 turns STOMP over TLS off), not {self.tls_port}"
            )


def _check_keys(source: str, section: str, values: dict[str, Any], cls: Any) -> None:
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [{section}]: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
