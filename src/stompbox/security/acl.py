"""Who may send to and subscribe to which destinations: declarative rules, first match
wins, and whatever no rule allows is refused.

A rule names callers (``any``, ``anonymous``, ``authenticated``, ``user:<name>``,
``role:<name>``), actions and destination patterns with the broker's wildcards and
``{user}`` for the caller's own name. ``serve`` reads them from ``[[acl]]`` tables
(:func:`rules_from_toml`), applications pass them to ``StompApp(acl=...)``; the server
asks :meth:`AccessControl.allows` before each SEND and SUBSCRIBE and answers a refusal
with an ERROR naming the action and the destination.

There are two actions. ``subscribe`` also covers receiving, consuming from a queue and
acknowledging: an ACK or NACK can only name a message delivered to one of the session's
own subscriptions, which passed the check when it was made, so a separate rule could only
refuse what was already delivered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple, TypeAlias, cast

from .patterns import RulePattern, check_rule_pattern, covers, overlaps, parse
from .principal import Principal

__all__ = [
    "AccessControl",
    "AccessDecision",
    "AccessRule",
    "Action",
    "allow",
    "deny",
    "rules_from_toml",
]

Action: TypeAlias = Literal["send", "subscribe"]
ACTIONS: Final[frozenset[Action]] = frozenset({"send", "subscribe"})
_ALL_ACTIONS: Final = ("*", "all")
_WHO_WORDS: Final = frozenset({"any", "anonymous", "authenticated"})
_NO_ROLES: Final[frozenset[str]] = frozenset()
_CACHE_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRule:
    """Allow (or deny) ``who`` the ``actions`` on ``destinations``.

    An allow rule decides a subscription only if its patterns cover every destination
    the subscription's pattern can match (``/topic/chat/**`` covers ``/topic/chat/*``;
    ``/topic/chat/lobby`` does not cover ``/topic/**``); a deny rule decides it as soon
    as one destination could be in both (``/topic/secret/**`` denies ``/topic/**``). So a
    wildcard subscription never receives what a subscription to the name would be refused.
    """

    who: tuple[str, ...]
    actions: frozenset[Action]
    destinations: tuple[str, ...]
    allow: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.who, tuple) or not self.who:
            raise ValueError(f"who must be a non-empty tuple of strings, not {self.who!r}")
        for who in self.who:
            _check_who(who)
        if not isinstance(self.actions, frozenset) or not self.actions:
            raise ValueError(f"actions must be a non-empty frozenset, not {self.actions!r}")
        for action in self.actions:
            _check_action(action)
        if not isinstance(self.destinations, tuple) or not self.destinations:
            raise ValueError(
                f"destinations must be a non-empty tuple of strings, not {self.destinations!r}"
            )
        for destination in self.destinations:
            if not isinstance(destination, str):
                raise ValueError(f"destination must be a string, not {destination!r}")
            check_rule_pattern(destination)
        if not isinstance(self.allow, bool):
            raise ValueError(f"allow must be true or false, not {self.allow!r}")

    def __str__(self) -> str:
        return " ".join(
            [
                "allow" if self.allow else "deny",
                ",".join(self.who),
                ",".join(sorted(self.actions)),
                *self.destinations,
            ]
        )


def allow(
    who: str | Sequence[str], actions: str | Sequence[str], destinations: str | Sequence[str]
) -> AccessRule:
    """``allow("role:staff", "*", "/queue/orders.**")``: a rule from strings or lists."""
    return AccessRule(
        who=_strings(who, "who"),
        actions=_actions(actions),
        destinations=_strings(destinations, "destinations"),
    )


def deny(
    who: str | Sequence[str], actions: str | Sequence[str], destinations: str | Sequence[str]
) -> AccessRule:
    """``deny("anonymous", "send", "/topic/**")``: a refusing rule from strings or lists."""
    return dataclasses.replace(allow(who, actions, destinations), allow=False)


class AccessDecision(NamedTuple):
    """What :meth:`AccessControl.check` decided, and which rule (``number``, from 1) decided it."""

    allowed: bool
    rule: AccessRule | None
    """None when no rule matched, which denies."""
    number: int = 0

    @property
    def reason(self) -> str:
        """For the server's log, never for the client: it shows the configuration."""
        if self.rule is None:
            return "denied: no rule matches"
        verdict = "allowed" if self.allowed else "denied"
        return f"{verdict} by rule {self.number} ({self.rule})"


_Key: TypeAlias = tuple[str | None, frozenset[str], str, str]


class _CompiledRule(NamedTuple):
    rule: AccessRule
    number: int
    anyone: bool
    anonymous: bool
    authenticated: bool
    users: frozenset[str]
    roles: frozenset[str]
    patterns: tuple[RulePattern, ...]

    def applies_to(self, principal: Principal | None) -> bool:
        if self.anyone:
            return True
        if principal is None:
            return self.anonymous
        return (
            self.authenticated
            or principal.name in self.users
            or not self.roles.isdisjoint(principal.roles)
        )


class AccessControl:
    """Decides each (caller, action, destination) by the first rule that matches it.

    ``separator`` and ``prefixes`` must be the broker's (``BrokerConfig.separator`` and
    ``.prefixes``), so that patterns split as the broker splits destinations. No rule
    configured means no access control, and the server then builds none; built with no
    rules, this denies everything, as any configuration does for what it does not allow.

    Decisions are cached (up to ``cache_size``, then the cache starts over), since the
    check runs for every SEND: a repeated one costs a dict lookup.
    """

    def __init__(
        self,
        rules: Sequence[AccessRule],
        separator: str = "/",
        prefixes: Iterable[str] = (),
        *,
        cache_size: int = _CACHE_LIMIT,
    ) -> None:
        if separator not in ("/", "."):
            raise ValueError(f"separator must be '/' or '.', not {separator!r}")
        self.rules = tuple(rules)
        self.separator = separator
        self.prefixes = tuple(prefixes)
        self._cache_size = cache_size
        self._cache: dict[_Key, AccessDecision] = {}
        self._compiled = [self._compile(rule, i) for i, rule in enumerate(self.rules, 1)]

    def _compile(self, rule: AccessRule, index: int) -> _CompiledRule:
        patterns = []
        for destination in rule.destinations:
            try:
                patterns.append(RulePattern(destination, self.separator, self.prefixes))
            except ValueError as e:
                raise ValueError(f"access rule {index} ({rule}): {e}") from None
        return _CompiledRule(
            rule=rule,
            number=index,
            anyone="any" in rule.who,
            anonymous="anonymous" in rule.who,
            authenticated="authenticated" in rule.who,
            users=frozenset(w[5:] for w in rule.who if w.startswith("user:")),
            roles=frozenset(w[5:] for w in rule.who if w.startswith("role:")),
            patterns=tuple(patterns),
        )

    def allows(self, principal: Principal | None, action: str, destination: str) -> bool:
        """Whether ``principal`` (None: anonymous) may ``action`` ``destination``, which
        for ``subscribe`` may be a wildcard pattern."""
        if principal is None:
            key: _Key = (None, _NO_ROLES, action, destination)
        else:
            key = (principal.name, principal.roles, action, destination)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._remember(key, principal, action, destination)
        return decision.allowed

    def check(self, principal: Principal | None, action: str, destination: str) -> AccessDecision:
        """As :meth:`allows`, with the rule that decided, for logs."""
        if principal is None:
            key: _Key = (None, _NO_ROLES, action, destination)
        else:
            key = (principal.name, principal.roles, action, destination)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._remember(key, principal, action, destination)
        return decision

    def _remember(
        self, key: _Key, principal: Principal | None, action: str, destination: str
    ) -> AccessDecision:
        decision = self._decide(principal, action, destination)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = decision
        return decision

    def _decide(self, principal: Principal | None, action: str, destination: str) -> AccessDecision:
        _check_action(action)
        wanted = parse(destination, self.separator, self.prefixes)
        name = None if principal is None else principal.name
        for compiled in self._compiled:
            if action not in compiled.rule.actions or not compiled.applies_to(principal):
                continue
            for pattern in compiled.patterns:
                segments = pattern.bind(name)
                if segments is None:
                    continue
                if compiled.rule.allow:
                    if covers(segments, wanted):
                        return AccessDecision(True, compiled.rule, compiled.number)
                elif overlaps(segments, wanted):
                    return AccessDecision(False, compiled.rule, compiled.number)
        return AccessDecision(False, None)


# -- TOML ------------------------------------------------------------------------------

_TOML_KEYS: Final = frozenset({"allow", "deny", "who", "actions", "destinations", "destination"})


def rules_from_toml(tables: list[dict[str, Any]], source: str) -> list[AccessRule]:
    """Rules from ``[[acl]]`` tables as :mod:`tomllib` reads them; ``source`` (the file's
    name) starts every error message, with the rule's number and the key at fault.

    Keys: ``allow = true`` (the default) or ``deny = true``; ``who``, ``actions`` (``"*"``
    for both) and ``destinations`` (or ``destination``), each a string or a list.
    """
    rules = []
    for index, table in enumerate(tables, 1):

        def fail(key: str, problem: str, index: int = index) -> ValueError:
            return ValueError(f"{source}: [[acl]] rule {index}: {key}: {problem}")

        if not isinstance(table, dict):
            raise fail("acl", f"expected a table, not {table!r}")
        for key in table:
            if key not in _TOML_KEYS:
                known = ", ".join(sorted(_TOML_KEYS))
                raise fail(key, f"unknown key (known: {known})")
        if "destination" in table and "destinations" in table:
            raise fail("destination", "give destination or destinations, not both")
        permit = True
        if "allow" in table and "deny" in table:
            raise fail("deny", "give allow or deny, not both")
        for key, means_allow in (("allow", True), ("deny", False)):
            if key in table:
                if not isinstance(table[key], bool):
                    raise fail(key, f"expected true or false, not {table[key]!r}")
                permit = table[key] is means_allow
        destinations_key = "destination" if "destination" in table else "destinations"
        for key in ("who", "actions", destinations_key):
            if key not in table:
                raise fail(key, "missing")
        try:
            who = _strings(table["who"], "who")
            for entry in who:
                _check_who(entry)
        except ValueError as e:
            raise fail("who", str(e)) from None
        try:
            actions = _actions(table["actions"])
        except ValueError as e:
            raise fail("actions", str(e)) from None
        try:
            destinations = _strings(table[destinations_key], destinations_key)
            for destination in destinations:
                check_rule_pattern(destination)
        except ValueError as e:
            raise fail(destinations_key, str(e)) from None
        rules.append(AccessRule(who=who, actions=actions, destinations=destinations, allow=permit))
    return rules


# -- validation --------------------------------------------------------------------------


def _strings(value: object, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{what} must be a string or a non-empty list of strings")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{what} must hold non-empty strings, not {item!r}")
    return tuple(items)


def _actions(value: object) -> frozenset[Action]:
    names = _strings(value, "actions")
    if any(name in _ALL_ACTIONS for name in names):
        return ACTIONS
    for name in names:
        _check_action(name)
    return cast(frozenset[Action], frozenset(names))


def _check_action(action: object) -> None:
    if action not in ACTIONS:
        hint = ""
        if action in ("ack", "nack", "consume", "receive"):
            hint = " (subscribe covers receiving and acknowledging what it receives)"
        raise ValueError(f"unknown action {action!r}: use send, subscribe or *{hint}")


def _check_who(who: object) -> None:
    if not isinstance(who, str):
        raise ValueError(f"who must be strings, not {who!r}")
    if who in _WHO_WORDS:
        return
    kind, _, name = who.partition(":")
    if kind not in ("user", "role") or not name:
        raise ValueError(
            f"unknown who {who!r}: use any, anonymous, authenticated, user:<name> or role:<name>"
        )
