"""Destination patterns as access rules read them: split into segments as the broker
splits them, with the broker's wildcards and a ``{user}`` placeholder.

A rule and a destination must be cut into the same segments as
:mod:`stompbox.broker.matching` cuts them, or a wildcard subscription could receive a
destination that a rule for that destination, read differently, would refuse. So the
first segment is the destination prefix (a configured one, else the leading
``/name/``), and the rest splits at the broker's separator only.

Subscriptions may hold wildcards themselves, so a rule is compared with a pattern, not a
name: :func:`covers` says whether every destination a subscription pattern can match is
matched by a rule's pattern (what an allow rule needs), :func:`overlaps` whether some
destination is matched by both (enough for a deny rule to refuse it). A name is the
pattern without wildcards, for which both mean "matches".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Final, TypeVar

__all__ = ["RulePattern", "Wildcard", "check_rule_pattern", "covers", "overlaps", "parse"]

USER: Final = "{user}"
"""Stands for the caller's own name in a rule's pattern."""


class Wildcard(enum.Enum):
    ONE = "*"
    """Exactly one segment."""
    ANY = "**"
    """Any number of segments, none included; ``#`` is the same, as RabbitMQ writes it."""


Segment = str | Wildcard
"""A literal segment or a wildcard: a literal ``"*"`` (from a user's name) stays literal."""

_ONE: Final = Wildcard.ONE  # a global: attribute access on an enum class is slow in 3.11
_ANY: Final = Wildcard.ANY
_WILDCARDS: Final = {"*": _ONE, "**": _ANY, "#": _ANY}


class UserTemplate:
    """A rule's segment holding ``{user}`` (``{user}``, ``private-{user}``)."""

    __slots__ = ("parts",)

    def __init__(self, segment: str) -> None:
        self.parts = segment.split(USER)

    def bind(self, name: str) -> str:
        return name.join(self.parts)

    def __repr__(self) -> str:
        return f"UserTemplate({USER.join(self.parts)!r})"


RuleSegment = Segment | UserTemplate
_S = TypeVar("_S", bound=RuleSegment)


def split(destination: str, prefixes: Iterable[str] = ()) -> tuple[str, str | None]:
    """``(prefix, rest)``: the first of ``prefixes`` that ``destination`` starts with and
    is longer than (the broker's rule), else its leading ``/name/``, else
    ``(destination, None)`` for a name under no prefix at all."""
    for prefix in prefixes:
        if destination.startswith(prefix) and len(destination) > len(prefix):
            return prefix, destination[len(prefix) :]
    end = destination.find("/", 1)
    if destination.startswith("/") and end > 1:
        return destination[: end + 1], destination[end + 1 :]
    return destination, None


def parse(destination: str, separator: str, prefixes: Iterable[str] = ()) -> list[Segment]:
    """A client's destination as segments: ``*``, ``**`` and ``#`` are wildcards when
    they make up a whole segment, and a segment with a ``*`` inside (``sec*``) is read as
    ``*``, a superset of what the broker matches with it (so a deny rule for
    ``/topic/secret`` refuses ``/topic/sec*``); everything else is literal."""
    prefix, rest = split(destination, prefixes)
    if rest is None:
        return [prefix]
    parts = rest.split(separator)
    if not any("*" in s or s == "#" for s in parts):
        return [prefix, *parts]
    return _normalize([prefix, *(_WILDCARDS.get(s, _ONE if "*" in s else s) for s in parts)])


def check_rule_pattern(pattern: str) -> None:
    """Raise :class:`ValueError` unless ``pattern`` can be a rule's destination pattern
    under either separator: ``**`` (or ``#``) alone for every destination, else a
    literal ``/prefix/`` and segments in which braces occur only as ``{user}``."""
    if pattern in ("**", "#"):
        return
    prefix, rest = split(pattern)
    if rest is None:
        raise ValueError(
            f"destination {pattern!r} must start with a prefix such as /topic/, "
            "or be '**' for every destination"
        )
    if any(c in prefix for c in "*#{}"):
        raise ValueError(f"destination {pattern!r}: the prefix {prefix!r} must be literal")
    if "{" in rest.replace(USER, "") or "}" in rest.replace(USER, ""):
        raise ValueError(f"destination {pattern!r}: the only placeholder is {USER}")


class RulePattern:
    """A rule's destination pattern, split for one separator; ``{user}`` is bound to a
    caller's name with :meth:`bind`."""

    __slots__ = ("_plain", "_segments", "separator", "text")

    def __init__(self, pattern: str, separator: str, prefixes: Iterable[str] = ()) -> None:
        check_rule_pattern(pattern)
        self.text = pattern
        self.separator = separator
        self._segments: list[RuleSegment] = [_ANY]
        self._plain: list[Segment] | None = [_ANY]
        if pattern in ("**", "#"):
            return
        prefix, rest = split(pattern, prefixes)
        assert rest is not None  # checked above
        segments: list[RuleSegment] = [prefix]
        for segment in rest.split(separator):
            if segment in _WILDCARDS:
                segments.append(_WILDCARDS[segment])
            elif "*" in segment:
                raise ValueError(
                    f"destination {pattern!r}: '*' and '**' must be whole segments "
                    f"between {separator!r} separators, not part of {segment!r}"
                )
            elif USER in segment:
                segments.append(UserTemplate(segment))
            else:
                segments.append(segment)
        self._segments = _normalize(segments)
        plain = [s for s in self._segments if not isinstance(s, UserTemplate)]
        self._plain = plain if len(plain) == len(self._segments) else None

    @property
    def personal(self) -> bool:
        """Whether the pattern holds ``{user}``."""
        return self._plain is None

    def bind(self, name: str | None) -> list[Segment] | None:
        """The pattern for caller ``name``; None if it holds ``{user}`` and there is no
        name, or one that could reach past a literal segment (holding ``/``, the
        separator or a wildcard character), which then matches nothing."""
        if self._plain is not None:
            return self._plain
        if not name or any(c in name for c in ("/", self.separator, "*", "#")):
            return None
        return [s.bind(name) if isinstance(s, UserTemplate) else s for s in self._segments]

    def __repr__(self) -> str:
        return f"RulePattern({self.text!r}, {self.separator!r})"


def _normalize(segments: Sequence[_S]) -> list[_S | Wildcard]:
    """Put each run of adjacent wildcards in one order (``*`` before ``**``, one ``**``):
    ``*.**`` and ``**.*`` both mean "one or more", and :func:`covers` compares them
    segment by segment."""
    out: list[_S | Wildcard] = []
    run: list[Wildcard] = []
    for segment in [*segments, None]:  # None flushes the last run
        if isinstance(segment, Wildcard):
            run.append(segment)
            continue
        if run:
            out.extend(_ONE for w in run if w is _ONE)
            if _ANY in run:
                out.append(_ANY)
            run = []
        if segment is not None:
            out.append(segment)
    return out


def covers(rule: Sequence[Segment], pattern: Sequence[Segment]) -> bool:
    """Whether every destination ``pattern`` matches is matched by ``rule``.

    The pattern's wildcards are read as symbols the rule must match with a wildcard at
    least as wide: its ``*`` by ``*`` or ``**``, its ``**`` by ``**`` only. That is sound
    (a yes is always right) and, with runs of wildcards normalized, right for the patterns
    people write; it may say no for an odd pattern that a rule does cover
    (``**.x.**`` under ``*.**``), which refuses a subscription, never widens one.
    """
    if _other_prefix(rule, pattern):
        return False
    n, m = len(rule), len(pattern)
    # below[j]: rule[i + 1:] covers pattern[j:]; row[j]: rule[i:] covers pattern[j:]
    below = [False] * m + [True]
    for i in range(n - 1, -1, -1):
        r = rule[i]
        row = [False] * (m + 1)
        if r is _ANY:
            row[m] = below[m]
            for j in range(m - 1, -1, -1):
                row[j] = below[j] or row[j + 1]
        else:
            for j in range(m):
                p = pattern[j]
                row[j] = below[j + 1] and p is not _ANY and (r is _ONE or r == p)
        below = row
    return below[0]


def overlaps(rule: Sequence[Segment], pattern: Sequence[Segment]) -> bool:
    """Whether some destination is matched by both ``rule`` and ``pattern``."""
    if _other_prefix(rule, pattern):
        return False
    n, m = len(rule), len(pattern)
    # below[j]: rule[i + 1:] and pattern[j:] match a common destination; row[j]: rule[i:]
    below = [False] * (m + 1)
    below[m] = True
    for j in range(m - 1, -1, -1):
        below[j] = pattern[j] is _ANY and below[j + 1]
    for i in range(n - 1, -1, -1):
        r = rule[i]
        row = [False] * (m + 1)
        row[m] = r is _ANY and below[m]
        for j in range(m - 1, -1, -1):
            p = pattern[j]
            if r is _ANY:  # it matches nothing more, or takes one segment and stays
                row[j] = below[j] or row[j + 1]
            elif p is _ANY:
                row[j] = row[j + 1] or below[j]
            else:  # one segment that both match
                row[j] = below[j + 1] and (r is _ONE or p is _ONE or r == p)
        below = row
    return below[0]


def _other_prefix(rule: Sequence[Segment], pattern: Sequence[Segment]) -> bool:
    """A quick no: both start with a literal prefix, and not the same one."""
    return bool(rule and pattern) and rule[0] is not _ANY and rule[0] != pattern[0]
