"""How a relay reaches its broker(s): addresses, logins, heart-beats, reconnection and what
clients get while the broker is away. One source for ``--relay`` and TOML's ``[relay]``."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stompbox.net import BrokerURL, parse_url

__all__ = ["Addresses", "RelaySettings", "RelaySettingsError"]


class RelaySettingsError(ValueError):
    """A relay setting that cannot work, with the key and what is allowed."""


@dataclass(slots=True)
class RelaySettings:
    """Spring's ``StompBrokerRelay`` settings, with its defaults where it has them."""

    brokers: tuple[BrokerURL, ...]
    """Tried in ``failover`` order; credentials in a URL win over ``login``/``passcode``
    for that broker (not over ``client_login``)."""
    login: str = "guest"
    """The system session's login (Spring's ``systemLogin``), for the template's messages
    and the instances' shared user registry."""
    passcode: str = "guest"
    client_login: str | None = None
    """The login of each client's own relay connection; None: the system login."""
    client_passcode: str | None = None
    forward_login: bool = False
    """Relay each client's own CONNECT login and passcode instead of ``client_login``:
    for brokers that keep per-user permissions themselves."""
    virtual_host: str | None = None
    """CONNECT's ``host`` header; None: the URL's path (``/`` when absent)."""
    heartbeat: tuple[int, int] = (10_000, 10_000)
    """The system session's heart-beats (send, receive), in ms."""
    client_heartbeat: tuple[int, int] = (10_000, 10_000)
    """Each client relay connection's own heart-beats with the broker, in ms; the
    client's heart-beats with stompbox are negotiated apart."""
    reconnect_interval: float = 5.0
    """Seconds between attempts to reach a broker again, forever."""
    reconnect_jitter: float = 0.2
    """Each wait is the interval times a random factor within 1 ± this, so that many
    instances do not reconnect in step."""
    failover: Literal["order", "round-robin"] = "order"
    """``order``: always the first broker that answers; ``round-robin``: after the one
    used last."""
    outage: Literal["hold", "error"] = "hold"
    """While the broker is away: ``hold`` keeps a client's frames (within
    ``outage_buffer``) and sends them once it is back; ``error`` refuses each SEND with
    an ERROR naming the outage."""
    outage_buffer: int = 1 << 20
    """Bytes of frames a client may have waiting for the broker: held during an outage
    (one more is refused), or queued while the broker is slower than the client (whose
    reading stops until half of it is written)."""
    user_registry: str = "/topic/stompbox.user-registry"
    """Where instances publish which users they hold (Spring's ``userRegistryBroadcast``)."""
    user_broadcast: str = "/topic/stompbox.unresolved-user"
    """Where a user message goes when no instance is known to hold the user (Spring's
    ``userDestinationBroadcast``)."""
    registry_interval: float = 10.0
    """Seconds between an instance's registry publications (also sent on each change);
    an instance not heard from for three of them is forgotten."""
    private_queue_expires: float = 60.0
    """Seconds RabbitMQ keeps a session's private queue (``/user/queue/...``) once nothing
    uses it (its ``x-expires``): what it holds waits that long for the session's broker
    connection to come back, and the queue of a session that ended goes after that long.
    Every instance must use the same value: RabbitMQ refuses a queue declared again with
    other arguments."""

    @classmethod
    def from_url(cls, text: str, **options: Any) -> RelaySettings:
        """``stomp://a:61613,stomp://b:61613`` (one or more URLs, comma-separated)."""
        urls = [part.strip() for part in text.split(",") if part.strip()]
        if not urls:
            raise RelaySettingsError("relay: no broker URL given")
        settings = cls(tuple(parse_url(url) for url in urls))
        return settings.updated(options)

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], source: str = "config") -> RelaySettings:
        """TOML's ``[relay]``: ``brokers`` (a URL, a comma-separated list of them, or an
        array) and any other field of this class."""
        table = dict(table)
        brokers = table.pop("brokers", None)
        if brokers is None:
            raise RelaySettingsError(f'{source}: [relay] needs brokers = ["stomp://..."]')
        if isinstance(brokers, str):
            brokers = brokers.split(",")
        if not isinstance(brokers, list) or not all(isinstance(b, str) for b in brokers):
            raise RelaySettingsError(f"{source}: [relay] brokers must be URLs, got {brokers!r}")
        try:
            settings = cls(tuple(parse_url(b.strip()) for b in brokers if b.strip()))
        except ValueError as exc:
            raise RelaySettingsError(f"{source}: [relay] brokers: {exc}") from None
        return settings.updated(table, source)

    def updated(self, options: Mapping[str, Any], source: str = "relay") -> RelaySettings:
        """A copy with ``options`` applied and every value checked."""
        names = {f.name for f in dataclasses.fields(self)} - {"brokers"}
        unknown = set(options) - names
        if unknown:
            raise RelaySettingsError(
                f"{source}: unknown relay setting(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(names))}"
            )
        values = dict(options)
        for key in ("heartbeat", "client_heartbeat"):
            if key in values:
                values[key] = tuple(values[key])
        settings = dataclasses.replace(self, **values)
        settings.check(source)
        return settings

    def check(self, source: str = "relay") -> None:
        if not self.brokers:
            raise RelaySettingsError(f"{source}: at least one broker URL is needed")
        for key in ("heartbeat", "client_heartbeat"):
            value = getattr(self, key)
            if len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value):
                raise RelaySettingsError(
                    f"{source}: {key} = {value!r}: give two non-negative milliseconds, "
                    "as [10000, 10000] (0 turns a direction off)"
                )
        for key in (
            "reconnect_interval",
            "registry_interval",
            "outage_buffer",
            "private_queue_expires",
        ):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or value <= 0:
                raise RelaySettingsError(f"{source}: {key} = {value!r}: must be above 0")
        if not 0 <= self.reconnect_jitter < 1:
            raise RelaySettingsError(
                f"{source}: reconnect_jitter = {self.reconnect_jitter!r}: must be in [0, 1)"
            )
        choices = {"failover": ("order", "round-robin"), "outage": ("hold", "error")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise RelaySettingsError(
                    f"{source}: {key} = {getattr(self, key)!r}: choose one of {', '.join(allowed)}"
                )

    def credentials(self, url: BrokerURL, client: bool) -> tuple[str, str]:
        """Login and passcode for ``url``: a client's connection's ``client_login`` when
        set, else the URL's own, else the system ``login``."""
        if client and self.client_login is not None:
            return self.client_login, self.client_passcode or ""
        if url.login is not None:
            return url.login, url.passcode or ""
        return self.login, self.passcode

    def vhost(self, url: BrokerURL) -> str:
        return self.virtual_host if self.virtual_host is not None else url.vhost

    def internal(self, destination: str) -> bool:
        """Whether a client's SUBSCRIBE or SEND to ``destination`` would reach the
        instances' own topics (``user_registry``, ``user_broadcast``): by name, or by a
        wildcard over them (RabbitMQ's ``*`` and ``#``, ActiveMQ's ``*`` and ``>``)."""
        if "*" not in destination and "#" not in destination and ">" not in destination:
            return destination == self.user_registry or destination == self.user_broadcast
        return _reaches(destination, self.user_registry) or _reaches(
            destination, self.user_broadcast
        )

    def describe(self) -> str:
        return ", ".join(f"{u.scheme}://{u.host}:{u.port}" for u in self.brokers)


def _reaches(destination: str, name: str) -> bool:
    if destination == name:
        return True
    prefix, _, words = destination.rpartition("/")
    name_prefix, _, key = name.rpartition("/")
    if prefix != name_prefix or not any(c in words for c in "*#>"):
        return False
    parts = [
        "[^.]+" if w == "*" else ".*" if w in ("#", ">") else re.escape(w) for w in words.split(".")
    ]
    return re.fullmatch(r"\.".join(parts), key) is not None


class Addresses:
    """Which broker to try next: the settings' list in ``order``, or ``round-robin``."""

    def __init__(self, settings: RelaySettings) -> None:
        self.brokers = settings.brokers
        self.round_robin = settings.failover == "round-robin"
        self._next = 0

    def attempt(self) -> Iterator[BrokerURL]:
        """Each broker once, in the order this attempt should try them."""
        count = len(self.brokers)
        start = self._next if self.round_robin else 0
        for i in range(count):
            index = (start + i) % count
            if self.round_robin:
                self._next = (index + 1) % count
            yield self.brokers[index]
