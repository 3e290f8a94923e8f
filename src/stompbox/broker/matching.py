"""Which topic subscriptions a destination reaches: a dict for exact names, a trie for
wildcard patterns, so that a message never scans every subscription.

Patterns split into segments at the configured separator after the destination prefix
(``/topic/price.stock.*`` with ``.``); ``*`` matches exactly one segment, ``**`` (and
``#``, as RabbitMQ users write it) any number, including none. A ``*`` inside a segment
matches any characters of that segment, never a separator, as Ant patterns do (Spring's
simple broker): with ``/``, ``/topic/price.stock.*`` is one segment ``price.stock.*``
and matches ``/topic/price.stock.MMM``. The app's handler patterns read segments with
:func:`segment_regex` too, so both match alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

__all__ = [
    "TopicIndex",
    "has_wildcard",
    "is_segment_pattern",
    "segment_matcher",
    "segment_regex",
    "split_destination",
]

T = TypeVar("T", bound=Hashable)

_ONE: Final = "*"
_ANY: Final = frozenset({"**", "#"})
_CACHE_LIMIT: Final = 10_000


def split_destination(destination: str, prefix: str, separator: str) -> list[str]:
    """``("/topic/a.b", "/topic/", ".")`` -> ``["/topic/", "a", "b"]``."""
    return [prefix, *destination[len(prefix) :].split(separator)]


def has_wildcard(segments: list[str]) -> bool:
    """Whether any segment after the prefix is or holds a wildcard (``*`` anywhere in
    it, or a whole ``#``): such a destination is a pattern, never a name to send to."""
    return any(_ONE in s or s in _ANY for s in segments[1:])


def is_segment_pattern(segment: str) -> bool:
    """Whether ``segment`` holds a ``*`` among other characters (``thing*``, ``a.*``)."""
    return _ONE in segment and segment != _ONE and segment not in _ANY


def segment_regex(segment: str, separator: str) -> str:
    """The regular expression (source) for one segment: ``*`` is any run of characters
    other than ``separator``, none included; the rest is literal."""
    chars = f"[^{re.escape(separator)}]*"
    return chars.join(re.escape(piece) for piece in segment.split(_ONE))


def segment_matcher(segment: str, separator: str) -> Callable[[str], object]:
    """A test of whole segments against ``segment`` (truthy when it matches)."""
    return re.compile(segment_regex(segment, separator) + r"\Z").match


class _Node(Generic[T]):
    __slots__ = ("any", "children", "one", "patterns", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Node[T]] = {}
        self.one: _Node[T] | None = None
        self.any: _Node[T] | None = None
        # segments with a ``*`` inside, by their text: (matcher, child)
        self.patterns: dict[str, tuple[Callable[[str], object], _Node[T]]] = {}
        self.subscribers: dict[T, None] = {}  # an ordered set

    def empty(self) -> bool:
        return not (self.children or self.one or self.any or self.patterns or self.subscribers)


class TopicIndex(Generic[T]):
    """Subscribers by destination or pattern; :meth:`match` is cached per destination,
    and the cache is dropped whenever a subscription comes or goes."""

    def __init__(self, separator: str = "/") -> None:
        self.separator = separator
        self._exact: dict[str, dict[T, None]] = {}
        self._root: _Node[T] = _Node()
        self._patterns = 0
        self._cache: dict[str, list[T]] = {}

    def add(self, destination: str, prefix: str, subscriber: T) -> None:
        self._cache.clear()
        segments = split_destination(destination, prefix, self.separator)
        if not has_wildcard(segments):
            self._exact.setdefault(destination, {})[subscriber] = None
            return
        node = self._root
        for i, segment in enumerate(segments):
            if i == 0:  # the prefix: literal
                node = node.children.setdefault(segment, _Node())
            elif segment == _ONE:
                node.one = node.one or _Node()
                node = node.one
            elif segment in _ANY:
                node.any = node.any or _Node()
                node = node.any
            elif _ONE in segment:
                entry = node.patterns.get(segment)
                if entry is None:
                    entry = node.patterns[segment] = (
                        segment_matcher(segment, self.separator),
                        _Node(),
                    )
                node = entry[1]
            else:
                node = node.children.setdefault(segment, _Node())
        if subscriber not in node.subscribers:
            node.subscribers[subscriber] = None
            self._patterns += 1

    def remove(self, destination: str, prefix: str, subscriber: T) -> None:
        self._cache.clear()
        segments = split_destination(destination, prefix, self.separator)
        if not has_wildcard(segments):
            subs = self._exact.get(destination)
            if subs is not None:
                subs.pop(subscriber, None)
                if not subs:
                    del self._exact[destination]
            return
        path: list[tuple[_Node[T], str]] = []
        node: _Node[T] | None = self._root
        for i, segment in enumerate(segments):
            assert node is not None
            path.append((node, segment))
            if i == 0:
                node = node.children.get(segment)
            elif segment == _ONE:
                node = node.one
            elif segment in _ANY:
                node = node.any
            elif _ONE in segment:
                entry = node.patterns.get(segment)
                node = None if entry is None else entry[1]
            else:
                node = node.children.get(segment)
            if node is None:
                return
        assert node is not None
        if node.subscribers.pop(subscriber, 0) is None:
            self._patterns -= 1
        for i, (parent, segment) in reversed(list(enumerate(path))):  # prune empty branches
            if not node.empty():
                break
            if i == 0:
                del parent.children[segment]
            elif segment == _ONE:
                parent.one = None
            elif segment in _ANY:
                parent.any = None
            elif _ONE in segment:
                del parent.patterns[segment]
            else:
                del parent.children[segment]
            node = parent

    def match(self, destination: str, prefix: str) -> list[T]:
        """Subscribers whose destination or pattern matches ``destination``, each once."""
        cached = self._cache.get(destination)
        if cached is not None:
            return cached
        exact = self._exact.get(destination)
        found: dict[T, None] = dict(exact) if exact else {}
        if self._patterns:
            _walk(self._root, split_destination(destination, prefix, self.separator), 0, found)
        result = list(found)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[destination] = result
        return result

    def __len__(self) -> int:
        return self._patterns + sum(len(s) for s in self._exact.values())


def _walk(node: _Node[T], segments: list[str], i: int, found: dict[T, None]) -> None:
    n = len(segments)
    if node.any is not None:
        for j in range(i, n + 1):
            _walk(node.any, segments, j, found)
    if i == n:
        found.update(node.subscribers)
        return
    child = node.children.get(segments[i])
    if child is not None:
        _walk(child, segments, i + 1, found)
    if node.one is not None:
        _walk(node.one, segments, i + 1, found)
    if node.patterns:
        segment = segments[i]
        for matches, child in node.patterns.values():
            if matches(segment):
                _walk(child, segments, i + 1, found)
