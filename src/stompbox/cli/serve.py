"""``stompbox serve``: run the broker, alone, with an application, or before a relay."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from stompbox.broker.config import SlowConsumerPolicy
from stompbox.broker.store import StoreError
from stompbox.security.config import SecurityConfig
from stompbox.server.config import ConfigError, ServerConfig, read_toml
from stompbox.server.gate import Gatekeeper

from .logs import configure_logging

if TYPE_CHECKING:
    from stompbox.app import StompApp

__all__ = ["add_serve_command", "load_app"]


def _serve(args: argparse.Namespace) -> int:
    from stompbox.server.run import run

    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.tcp is not None:
        overrides["tcp"] = args.tcp
    if args.ws_port is not None:
        overrides["ws_port"] = args.ws_port
    if args.ws_path is not None:
        overrides["ws_path"] = args.ws_path
    if args.http_port is not None:
        overrides["http_port"] = args.http_port
    for name in ("tls_cert", "tls_key", "tls_ca", "tls_port"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.allow_origin:
        overrides["allowed_origins"] = args.allow_origin
    named: dict[str, Any] = {}  # the file's tables, as written
    try:
        if args.config is not None:
            named = read_toml(args.config)
            config = ServerConfig.from_dict(named, source=str(args.config), **overrides)
        else:
            config = ServerConfig.from_dict({}, **overrides)
        if args.separator is not None:
            config.broker.separator = args.separator
        if args.slow_consumer_policy is not None:
            config.broker.slow_consumer_policy = SlowConsumerPolicy(args.slow_consumer_policy)
        _security_options(config, args)
    except ConfigError as exc:
        print(f"stompbox serve: {exc}", file=sys.stderr)
        return 2
    app = None
    broker = None
    relay = None
    if args.relay is not None:
        from stompbox.relay import RelaySettings, RelaySettingsError

        try:
            if config.relay is not None:  # the file's [relay], with --relay's brokers
                relay = RelaySettings.from_dict({**config.relay, "brokers": args.relay})
            else:
                relay = RelaySettings.from_url(args.relay)
        except (RelaySettingsError, ValueError) as exc:
            print(f"stompbox serve: --relay: {exc}", file=sys.stderr)
            return 2
    if (relay is not None or config.relay is not None) and args.app is None:
        from stompbox.app import StompApp

        try:
            app = StompApp(config=config, relay=relay)
        except (ConfigError, ValueError) as exc:
            print(f"stompbox serve: {exc}", file=sys.stderr)
            return 2
        except StoreError as exc:
            print(f"stompbox serve: {exc}", file=sys.stderr)
            return 1
        config, broker = app.config, app.broker
    elif args.app is not None:
        try:
            app = load_app(args.app)
        except (ImportError, AttributeError, TypeError, OSError) as exc:
            print(f"stompbox serve: cannot load app {args.app!r}: {exc}", file=sys.stderr)
            return 2
        except StoreError as exc:  # the app built its broker on import
            print(f"stompbox serve: {exc}", file=sys.stderr)
            return 1
        try:
            _settle_app(app, config, named, args, overrides)
            if relay is None and config.relay is not None:  # the file's [relay] alone
                from stompbox.relay import RelaySettings, RelaySettingsError

                try:
                    relay = RelaySettings.from_dict(config.relay)
                except RelaySettingsError as exc:
                    raise ConfigError(f"[relay]: {exc}") from None
        except ConfigError as exc:
            print(f"stompbox serve: --app: {exc}", file=sys.stderr)
            return 2
        if relay is not None:
            app.use_relay(relay)
        config, broker = app.config, app.broker
    configure_logging(args.log_level, args.log_format)
    try:
        run(config, broker, app, stats_interval=args.stats_interval)
    except ConfigError as exc:  # a TLS file, found wanting when the listeners start
        print(f"stompbox serve: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:  # reported before listening: the store path and why
        print(f"stompbox serve: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        tls_port = config.tls_port if config.tls_cert is not None else 0
        tcp_port = config.port if config.tcp else 0
        ports = " and ".join(str(p) for p in (tcp_port, tls_port, config.ws_port) if p)
        print(f"stompbox serve: cannot listen on {config.host}:{ports}: {exc}", file=sys.stderr)
        return 1
    return 0


def _settle_app(
    app: StompApp,
    config: ServerConfig,
    named: dict[str, Any],
    args: argparse.Namespace,
    overrides: dict[str, Any],
) -> None:
    """Give ``app`` what the operator said: where to listen, and every section the config
    file names (``named``: ``[server]``, ``[limits]``, ``[connect_limits]``, the
    security), the flags over them. Nothing is dropped unsaid: what cannot apply (the
    broker, which the app built on import, or security set both in the file and in the
    app's code) is a ConfigError that names it."""
    if "broker" in named or args.separator is not None or args.slow_consumer_policy is not None:
        raise ConfigError(
            "the app built its broker on import: set [broker] keys, --separator and "
            "--slow-consumer-policy in its StompApp(config=ServerConfig(...)), not here"
        )
    target = app.config
    for name in ("host", "port", "ws_port", "ws_path", *named.get("server", {}), *overrides):
        setattr(target, name, getattr(config, name))
    for section in ("limits", "connect_limits"):
        if section in named:
            setattr(target, section, getattr(config, section))
    if named.keys() & {"security", "users", "acl"}:
        if target.security != SecurityConfig():
            raise ConfigError(
                f"{args.config} sets [security], [users] or [[acl]] and the app sets its "
                "own security in code (StompApp(authenticate=..., acl=..., ...)); keep it "
                "in one place"
            )
        target.security = config.security
    _security_options(target, args)
    target.validate()
    app.registry.gate = Gatekeeper(target)


def _security_options(config: ServerConfig, args: argparse.Namespace) -> None:
    """Apply ``--users`` and ``--trust-login`` over the file's ``[security]``."""
    if args.users is None and not args.trust_login:
        return
    if args.users is not None:
        config.security.users_file = args.users
        config.security.users = None
    if args.trust_login:
        config.security.trust_login = True
    config.validate()  # loads the users file: a bad one is reported now


def load_app(spec: str) -> StompApp:
    """``package.module:name`` or ``path/to/file.py:name`` -> that :class:`StompApp`."""
    import importlib
    import importlib.util
    from pathlib import Path

    from stompbox.app import StompApp

    target, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"{target} is not a Python file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        module_spec.loader.exec_module(module)
    else:
        sys.path.insert(0, ".")
        module = importlib.import_module(target)
    app = getattr(module, attribute)
    if not isinstance(app, StompApp):
        raise TypeError(f"{attribute} is a {type(app).__name__}, not a StompApp")
    return app


def add_serve_command(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the broker",
        description=(
            "Run the embedded broker. With no options it listens for STOMP over TCP on "
            "127.0.0.1:61613 and over WebSocket on ws://127.0.0.1:15674/ws (subprotocols "
            "v12.stomp, v11.stomp, v10.stomp), with /topic/ (publish-subscribe) and /queue/ "
            "(point-to-point) "
            "destinations and no authentication. Everything else (limits, heart-beats, "
            "users, virtual hosts, destination prefixes, queue bounds, dead-lettering) is "
            "set in a TOML file given with --config; see docs/configuration.md."
        ),
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default 61613)")
    serve.add_argument(
        "--no-tcp",
        dest="tcp",
        action="store_false",
        default=None,
        help="no plain STOMP over TCP: TLS (--tls-cert) and WebSocket only",
    )
    serve.add_argument(
        "--ws-port", type=int, help="WebSocket port (default 15674; 0 turns WebSocket off)"
    )
    serve.add_argument("--ws-path", help="WebSocket path (default /ws)")
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help=(
            "PEM certificate chain: serve STOMP over TLS on --tls-port and WSS on the "
            "WebSocket port (needs --tls-key; SIGHUP reloads both files)"
        ),
    )
    serve.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    serve.add_argument(
        "--users",
        metavar="FILE",
        help="users file with argon2 password hashes (make one with `stompbox passwd FILE "
        "USER`): CONNECT must present a login and passcode from it",
    )
    serve.add_argument(
        "--trust-login",
        action="store_true",
        help="DEVELOPMENT ONLY: take CONNECT's login as the user's name, unchecked",
    )
    serve.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        help="a web origin (https://app.example.com, https://*.example.com) whose pages may "
        "open a WebSocket; repeat for more (default: same-origin only)",
    )
    serve.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="PEM CA bundle: verify client certificates against it (optional unless "
        'tls_client_cert = "required" in the config file)',
    )
    serve.add_argument(
        "--tls-port", type=int, help="STOMP over TLS port (default 61614; 0 turns it off)"
    )
    serve.add_argument("--config", metavar="FILE", help="TOML configuration file")
    serve.add_argument(
        "--app",
        metavar="MODULE:NAME",
        help="serve a stompbox.app.StompApp (module.path:name or file.py:name) on these ports",
    )
    serve.add_argument(
        "--relay",
        metavar="URL[,URL...]",
        help=(
            "keep topics and queues on this external broker (stomp://user:pass@host:61613/; "
            "several, comma-separated, for failover), so that several stompbox processes "
            "share them; the config file's [relay] says the rest (docs/scaling.md)"
        ),
    )
    serve.add_argument(
        "--separator", choices=["/", "."], help="topic wildcard segment separator (default /)"
    )
    serve.add_argument(
        "--slow-consumer-policy",
        choices=[p.value for p in SlowConsumerPolicy],
        help="what to do when a topic subscriber falls behind (default drop-oldest)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level (default info)",
    )
    serve.add_argument(
        "--http-port",
        type=int,
        metavar="PORT",
        help="management listener: /healthz, /readyz, /metrics (default 15672; 0 turns it off)",
    )
    serve.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="lines for people, or one JSON object per line for log shippers (default text)",
    )
    serve.add_argument(
        "--stats-interval",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="log a line of broker statistics this often, as Spring's "
        "WebSocketMessageBrokerStats does (default 1800; 0 turns it off)",
    )
    serve.set_defaults(func=_serve)
