"""Access rules: who may send to and subscribe to what, first match wins, default deny."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stompbox.security.acl import (
    AccessControl,
    AccessRule,
    Action,
    allow,
    deny,
    rules_from_toml,
)
from stompbox.security.patterns import Segment, Wildcard, covers, overlaps, parse
from stompbox.security.principal import Principal

ALICE = Principal("alice", frozenset({"staff"}))
BOB = Principal("bob")


def allowed(
    rules: Sequence[AccessRule],
    who: Principal | None,
    action: Action,
    destination: str,
    separator: str = "/",
) -> bool:
    return AccessControl(rules, separator).allows(who, action, destination)


# -- order and default ---------------------------------------------------------------------


def test_first_matching_rule_wins() -> None:
    rules = [allow("any", "send", "/queue/a"), deny("any", "send", "/queue/a")]
    assert allowed(rules, BOB, "send", "/queue/a")
    assert not allowed(rules[::-1], BOB, "send", "/queue/a")


def test_a_deny_before_a_wider_allow_carves_it_out() -> None:
    rules = [deny("any", "*", "/topic/secret/**"), allow("any", "*", "/topic/**")]
    assert allowed(rules, BOB, "send", "/topic/news")
    assert not allowed(rules, BOB, "send", "/topic/secret/plans")
    assert not allowed(rules, BOB, "subscribe", "/topic/secret")


def test_what_no_rule_allows_is_denied() -> None:
    rules = [allow("any", "send", "/queue/a")]
    assert not allowed(rules, BOB, "send", "/queue/b")
    assert not allowed(rules, BOB, "subscribe", "/queue/a")  # the rule is for send only


def test_no_rules_deny_everything() -> None:
    control = AccessControl([])
    assert not control.allows(ALICE, "send", "/queue/a")
    assert not control.allows(None, "subscribe", "/topic/a")


def test_check_says_which_rule_decided() -> None:
    control = AccessControl([allow("any", "send", "/queue/a"), deny("role:staff", "*", "**")])
    decision = control.check(ALICE, "subscribe", "/queue/a")
    assert (decision.allowed, decision.rule, decision.number) == (False, control.rules[1], 2)
    assert decision.reason == "denied by rule 2 (deny role:staff send,subscribe **)"
    assert control.check(ALICE, "send", "/queue/a").reason == (
        "allowed by rule 1 (allow any send /queue/a)"
    )
    assert control.check(None, "send", "/queue/b").reason == "denied: no rule matches"


def test_decisions_stay_right_past_the_cache_size() -> None:
    control = AccessControl([allow("any", "send", "/queue/even.*")], ".", cache_size=3)
    for round_ in range(2):
        for i in range(10):
            expected = i % 2 == 0
            destination = f"/queue/{'even' if expected else 'odd'}.{i}"
            assert control.allows(BOB, "send", destination) is expected, (round_, i)


def test_an_unknown_action_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match=r"unknown action 'ack'.*subscribe covers"):
        AccessControl([]).allows(BOB, "ack", "/queue/a")


# -- who -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "anonymous", "alice", "bob"),
    [
        ("any", True, True, True),
        ("anonymous", True, False, False),
        ("authenticated", False, True, True),
        ("user:alice", False, True, False),
        ("role:staff", False, True, False),
        ("role:admin", False, False, False),
    ],
)
def test_each_kind_of_who(who: str, anonymous: bool, alice: bool, bob: bool) -> None:
    rules = [allow(who, "send", "/queue/a")]
    assert allowed(rules, None, "send", "/queue/a") is anonymous
    assert allowed(rules, ALICE, "send", "/queue/a") is alice
    assert allowed(rules, BOB, "send", "/queue/a") is bob


def test_a_rule_applies_to_any_of_its_who() -> None:
    rules = [allow(["user:bob", "role:staff"], "send", "/queue/a")]
    assert allowed(rules, ALICE, "send", "/queue/a")
    assert allowed(rules, BOB, "send", "/queue/a")
    assert not allowed(rules, Principal("carol", frozenset({"guest"})), "send", "/queue/a")


def test_roles_decide_apart_from_the_name() -> None:
    control = AccessControl([allow("role:staff", "send", "/queue/a")])
    assert control.allows(Principal("x", frozenset({"staff"})), "send", "/queue/a")
    assert not control.allows(Principal("x"), "send", "/queue/a")  # same name, cached apart


# -- patterns ------------------------------------------------------------------------------


def test_wildcards_with_the_dot_separator() -> None:
    rules = [allow("any", "*", "/topic/chat.*")]
    assert allowed(rules, BOB, "send", "/topic/chat.lobby", ".")
    assert not allowed(rules, BOB, "send", "/topic/chat.lobby.x", ".")
    assert not allowed(rules, BOB, "send", "/topic/chat", ".")
    # a "/" is an ordinary character with ".", as the broker reads it
    assert allowed(rules, BOB, "send", "/topic/chat.a/b", ".")


def test_wildcards_with_the_slash_separator() -> None:
    rules = [allow("any", "*", "/queue/orders/*"), allow("any", "*", "/topic/a/#")]
    assert allowed(rules, BOB, "send", "/queue/orders/1")
    assert not allowed(rules, BOB, "send", "/queue/orders/1/2")
    assert not allowed(rules, BOB, "send", "/queue/orders.1")
    assert allowed(rules, BOB, "send", "/topic/a")
    assert allowed(rules, BOB, "send", "/topic/a/b/c")


def test_double_star_alone_is_every_destination() -> None:
    rules = [allow("any", "*", "**")]
    for destination in ("/queue/a", "/topic/a/b", "/app/greet", "/topic/**", "odd"):
        assert allowed(rules, None, "subscribe", destination)


def test_a_prefix_is_a_segment_of_its_own() -> None:
    rules = [allow("any", "*", "/topic/**")]
    assert not allowed(rules, BOB, "send", "/queue/a")
    assert not allowed(rules, BOB, "send", "/topics/a")


def test_configured_prefixes_split_as_the_broker_splits() -> None:
    rules = [deny("any", "*", "/exchange/amq/secret"), allow("any", "*", "/exchange/amq/*")]
    control = AccessControl(rules, ".", prefixes=["/exchange/amq/"])
    assert control.allows(BOB, "send", "/exchange/amq/news")
    assert not control.allows(BOB, "subscribe", "/exchange/amq/*")  # it would get the secret


@pytest.mark.parametrize(
    ("separator", "pattern"),
    [(".", "/topic/a/*"), ("/", "/topic/a.*"), ("/", "/topic/chat*"), (".", "/user/{user}/q/**")],
)
def test_a_wildcard_inside_a_segment_is_refused(separator: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=r"access rule 2 .*must be whole segments"):
        AccessControl([allow("any", "*", "**"), allow("any", "*", pattern)], separator)


# -- {user} --------------------------------------------------------------------------------


def test_user_stands_for_the_callers_own_name() -> None:
    rules = [allow("authenticated", "*", ["/queue/private.{user}", "/user/{user}/queue/**"])]
    assert allowed(rules, ALICE, "send", "/queue/private.alice")
    assert not allowed(rules, BOB, "send", "/queue/private.alice")
    assert allowed(rules, ALICE, "subscribe", "/user/alice/queue/inbox")
    assert not allowed(rules, BOB, "subscribe", "/user/alice/queue/inbox")


@pytest.mark.parametrize("separator", ["/", "."])
def test_user_matches_a_whole_segment_not_a_beginning(separator: str) -> None:
    rules = [allow("any", "*", "/queue/private.{user}")]
    assert allowed(rules, ALICE, "send", "/queue/private.alice", separator)
    assert not allowed(rules, ALICE, "send", "/queue/private.alice.x", separator)
    assert not allowed(rules, ALICE, "send", "/queue/private.alicex", separator)
    assert not allowed(rules, ALICE, "send", "/queue/private.alice/x", separator)


def test_an_anonymous_caller_never_matches_user() -> None:
    rules = [allow("any", "*", "/queue/{user}"), allow("any", "*", "/queue/x-{user}")]
    for destination in ("/queue/", "/queue/x-", "/queue/None", "/queue/{user}"):
        assert not allowed(rules, None, "send", destination)


@pytest.mark.parametrize(
    ("name", "separator", "destination", "action"),
    [
        ("a/b", "/", "/user/a/b/queue/x", "send"),
        ("a.b", ".", "/queue/private.a.b", "send"),
        ("a/b", ".", "/user/a/b/queue/x", "send"),  # the app splits user names at "/"
        ("*", ".", "/queue/private.*", "subscribe"),
        ("**", "/", "/user/**/queue/x", "subscribe"),
        ("#", ".", "/queue/private.#", "subscribe"),
        ("", ".", "/queue/private.", "send"),
    ],
)
def test_a_hostile_name_does_not_widen_user(
    name: str, separator: str, destination: str, action: Action
) -> None:
    rules = [
        allow("any", "*", "/queue/private.{user}"),
        allow("any", "*", "/user/{user}/queue/x" if separator == "." else "/user/{user}/queue/**"),
    ]
    assert not allowed(rules, Principal(name), action, destination, separator)


def test_a_deny_with_user_applies_to_the_caller_only() -> None:
    rules = [deny("any", "send", "/queue/{user}.outbox"), allow("any", "send", "/queue/**")]
    assert not allowed(rules, ALICE, "send", "/queue/alice.outbox", ".")
    assert allowed(rules, ALICE, "send", "/queue/bob.outbox", ".")
    assert allowed(rules, None, "send", "/queue/alice.outbox", ".")


# -- wildcard subscriptions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscription", "expected"),
    [
        ("/topic/chat/lobby", True),
        ("/topic/chat/*", True),
        ("/topic/chat/**", True),
        ("/topic/chat/#", True),
        ("/topic/chat/*/**", True),
        ("/topic/**", False),
        ("/topic/*/lobby", False),
        ("/topic/*", False),
    ],
)
def test_an_allow_must_cover_the_whole_subscription(subscription: str, expected: bool) -> None:
    rules = [allow("any", "subscribe", "/topic/chat/**")]
    assert allowed(rules, BOB, "subscribe", subscription) is expected


def test_an_exact_allow_does_not_cover_a_wildcard_subscription() -> None:
    rules = [allow("any", "subscribe", "/topic/chat/lobby")]
    assert not allowed(rules, BOB, "subscribe", "/topic/**")
    assert not allowed(rules, BOB, "subscribe", "/topic/chat/*")


@pytest.mark.parametrize(
    ("subscription", "expected"),
    [
        ("/topic/**", False),
        ("/topic/*", False),  # would receive /topic/secret
        ("/topic/*/plans", False),
        ("/topic/secret/*", False),
        ("/topic/public/**", True),
        ("/topic/*/*/x", True),  # the deny is /topic/secret/*/y
    ],
)
def test_a_deny_refuses_every_subscription_it_overlaps(subscription: str, expected: bool) -> None:
    rules = [
        deny("any", "*", ["/topic/secret", "/topic/secret/plans", "/topic/secret/*/y"]),
        allow("any", "*", "/topic/**"),
    ]
    assert allowed(rules, BOB, "subscribe", subscription) is expected


def test_wildcard_subscriptions_with_the_dot_separator() -> None:
    rules = [deny("any", "*", "/topic/price.secret.*"), allow("any", "*", "/topic/price.**")]
    assert allowed(rules, BOB, "subscribe", "/topic/price.stock.*", ".")
    assert not allowed(rules, BOB, "subscribe", "/topic/price.*.ibm", ".")
    assert not allowed(rules, BOB, "subscribe", "/topic/#", ".")


# -- rules built in Python -------------------------------------------------------------------


def test_allow_and_deny_take_strings_or_lists() -> None:
    rule = deny(["user:a", "role:b"], ["send"], "/queue/a")
    assert rule == AccessRule(
        who=("user:a", "role:b"),
        actions=frozenset({"send"}),
        destinations=("/queue/a",),
        allow=False,
    )
    assert allow("any", "*", "**").actions == frozenset({"send", "subscribe"})


@pytest.mark.parametrize(
    ("who", "actions", "destinations", "message"),
    [
        ("nobody", "send", "/queue/a", "unknown who 'nobody'"),
        ("user:", "send", "/queue/a", "unknown who 'user:'"),
        ([], "send", "/queue/a", "who must be a string or a non-empty list"),
        ("any", "ack", "/queue/a", "unknown action 'ack'"),
        ("any", "send", "queue/a", "must start with a prefix"),
        ("any", "send", "/queue", "must start with a prefix"),
        ("any", "send", "/*/a", "the prefix '/\\*/' must be literal"),
        ("any", "send", "/queue/{username}", "the only placeholder is {user}"),
    ],
)
def test_a_bad_rule_says_what_is_wrong(
    who: str | list[str], actions: str, destinations: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        allow(who, actions, destinations)


def test_access_rule_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="who must be a non-empty tuple"):
        AccessRule(who="any", actions=frozenset({"send"}), destinations=("/queue/a",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="actions must be a non-empty frozenset"):
        AccessRule(who=("any",), actions=frozenset(), destinations=("/queue/a",))


# -- TOML ----------------------------------------------------------------------------------

EXAMPLE = """
[[acl]]
deny = true
who = "anonymous"
actions = "send"
destinations = "/topic/**"

[[acl]]
who = ["role:staff", "user:ops"]
actions = "*"
destinations = ["/queue/orders.**", "/topic/orders.*"]

[[acl]]
who = "authenticated"
actions = ["send", "subscribe"]
destination = "/queue/private.{user}"

[[acl]]
allow = true
who = "any"
actions = "subscribe"
destinations = "/topic/**"
"""


def test_rules_from_toml() -> None:
    rules = rules_from_toml(tomllib.loads(EXAMPLE)["acl"], "stompbox.toml")
    assert rules == [
        deny("anonymous", "send", "/topic/**"),
        allow(["role:staff", "user:ops"], "*", ["/queue/orders.**", "/topic/orders.*"]),
        allow("authenticated", "*", "/queue/private.{user}"),
        allow("any", "subscribe", "/topic/**"),
    ]
    control = AccessControl(rules, ".")
    assert control.allows(None, "subscribe", "/topic/orders.new")
    assert not control.allows(None, "send", "/topic/orders.new")
    assert control.allows(Principal("ops"), "send", "/topic/orders.new")


def test_deny_false_and_allow_false() -> None:
    tables = [
        {"deny": False, "who": "any", "actions": "send", "destinations": "/queue/a"},
        {"allow": False, "who": "any", "actions": "send", "destinations": "/queue/b"},
    ]
    assert [rule.allow for rule in rules_from_toml(tables, "s")] == [True, False]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"allowed": True}, "rule 2: allowed: unknown key"),
        ({"allow": "yes"}, "rule 2: allow: expected true or false"),
        ({"deny": 1}, "rule 2: deny: expected true or false"),
        ({"allow": True, "deny": True}, "rule 2: deny: give allow or deny"),
        ({"who": "everyone"}, "rule 2: who: unknown who 'everyone'"),
        ({"who": ["any", 3]}, "rule 2: who: who must hold non-empty strings"),
        ({"actions": "ack"}, "rule 2: actions: unknown action 'ack'"),
        ({"actions": []}, "rule 2: actions: actions must be a string or a non-empty list"),
        ({"destinations": 5}, "rule 2: destinations: destinations must be a string"),
        ({"destinations": "queue"}, "rule 2: destinations: .*must start with a prefix"),
        ({"destination": "/queue/a"}, "rule 2: destination: give destination or destinations"),
    ],
)
def test_toml_errors_name_the_source_rule_and_key(extra: dict[str, object], message: str) -> None:
    good = {"who": "any", "actions": "send", "destinations": "/queue/a"}
    with pytest.raises(ValueError, match=f"^acl.toml: \\[\\[acl\\]\\] {message}"):
        rules_from_toml([good, {**good, **extra}], "acl.toml")


@pytest.mark.parametrize("key", ["who", "actions", "destinations"])
def test_toml_keys_that_must_be_given(key: str) -> None:
    table = {"who": "any", "actions": "send", "destinations": "/queue/a"}
    del table[key]
    with pytest.raises(ValueError, match=f"^s: \\[\\[acl\\]\\] rule 1: {key}: missing"):
        rules_from_toml([table], "s")


def test_toml_rule_that_is_not_a_table() -> None:
    with pytest.raises(ValueError, match="rule 1: acl: expected a table"):
        rules_from_toml(["allow"], "s")  # type: ignore[list-item]


# -- properties ----------------------------------------------------------------------------

ALPHABET = ["a", "b"]
SEGMENTS = st.sampled_from([*ALPHABET, "*", "**", "#"])
PATTERNS = st.lists(SEGMENTS, min_size=1, max_size=4).map(lambda s: "/topic/" + "/".join(s))
LITERALS = [
    ["/topic/", *word]
    for size in range(1, 6)
    for word in itertools.product([*ALPHABET, "z"], repeat=size)  # "z" in no pattern
]


def matches(pattern: Sequence[Segment], name: Sequence[Segment]) -> bool:
    """The plain recursive reading of the wildcards, to check the tables against."""
    if not pattern:
        return not name
    first, rest = pattern[0], pattern[1:]
    if first is Wildcard.ANY:
        return any(matches(rest, name[k:]) for k in range(len(name) + 1))
    return bool(name) and (first is Wildcard.ONE or first == name[0]) and matches(rest, name[1:])


@given(PATTERNS, PATTERNS)
def test_covers_is_sound(rule: str, subscription: str) -> None:
    """A subscription a rule covers receives nothing the rule does not match."""
    r, p = parse(rule, "/"), parse(subscription, "/")
    if covers(r, p):
        assert all(matches(r, name) for name in LITERALS if matches(p, name))


WITNESSES = [
    ["/topic/", *word] for size in range(1, 9) for word in itertools.product(ALPHABET, repeat=size)
]
"""Names that settle whether two patterns share one: patterns of at most 4 segments that
match a common name match one of at most 8 segments (each segment of it is matched by a
segment of either pattern, or by a wildcard of both), in which a segment that only
wildcards match may as well be ``a``. (LITERALS, up to 5 segments, misses
``/topic/a/a/a/**`` and ``/topic/**/b/a/a`` sharing ``/topic/a/a/a/b/a/a``.)"""


@given(PATTERNS, PATTERNS)
def test_overlaps_is_exact(rule: str, subscription: str) -> None:
    r, p = parse(rule, "/"), parse(subscription, "/")
    both = any(matches(r, name) and matches(p, name) for name in WITNESSES)
    assert overlaps(r, p) is both


@given(PATTERNS, st.sampled_from(LITERALS))
def test_for_a_name_covers_and_overlaps_mean_matches(rule: str, name: list[str]) -> None:
    r = parse(rule, "/")
    assert covers(r, name) is overlaps(r, name) is matches(r, name)


RULES = st.lists(
    st.builds(
        lambda permit, pattern: (allow if permit else deny)("any", "subscribe", pattern),
        st.booleans(),
        PATTERNS,
    ),
    max_size=4,
)


@given(RULES, PATTERNS)
def test_a_subscription_allowed_lets_through_only_names_allowed(
    rules: list[AccessRule], subscription: str
) -> None:
    """The point of covers and overlaps: a wildcard subscription never receives a message
    on a destination the same caller could not subscribe to by name."""
    control = AccessControl(rules)
    if control.allows(BOB, "subscribe", subscription):
        pattern = parse(subscription, "/")
        for name in LITERALS:
            if matches(pattern, name):
                destination = name[0] + "/".join(name[1:])
                assert control.allows(BOB, "subscribe", destination), destination


def test_a_wildcard_inside_a_segment_cannot_get_past_a_deny_rule() -> None:
    """The broker matches ``sec*`` against ``secret``: the rules read it as ``*``."""
    acl = AccessControl(
        [deny("any", "subscribe", "/topic/secret"), allow("any", "subscribe", "/topic/*")]
    )
    assert not acl.allows(None, "subscribe", "/topic/sec*")
    assert not acl.allows(None, "subscribe", "/topic/*cret")
    assert acl.allows(None, "subscribe", "/topic/public")
    open_area = AccessControl([allow("any", "subscribe", "/topic/pub/**")])
    assert open_area.allows(None, "subscribe", "/topic/pub/a*/b")
