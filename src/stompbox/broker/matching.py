"""Which topic subscriptions a destination reaches: a dict for exact names, a trie for
wildcard patterns, so that a message never scans every subscription.

Patterns split into segments at the configured separator after the destination prefix
(``/topic/price.stock.*`` with ``.``); ``*`` matches exactly one segment, ``**`` (and
``#``, as RabbitMQ users write it) any number, including none.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final, Generic, TypeVar

__all__ = ["TopicIndex", "has_wildcard", "split_destination"]

T = TypeVar("T", bound=Hashable)

_ONE: Final = "*"
_ANY: Final = frozenset({"**", "#"})
_CACHE_LIMIT: Final = 10_000


def split_destination(destination: str, prefix: str, separator: str) -> list[str]:
    """``("/topic/a.b", "/topic/", ".")`` -> ``["/topic/", "a", "b"]``."""
    return [prefix, *destination[len(prefix) :].split(separator)]


def has_wildcard(segments: list[str]) -> bool:
    return any(s == _ONE or s in _ANY for s in segments[1:])


class _Node(Generic[T]):
    __slots__ = ("any", "children", "one", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Node[T]] = {}
        self.one: _Node[T] | None = None
        self.any: _Node[T] | None = None
        self.subscribers: dict[T, None] = {}  # an ordered set

    def empty(self) -> bool:
        return not (self.children or self.one or self.any or self.subscribers)


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
        for segment in segments:
            if segment == _ONE:
                node.one = node.one or _Node()
                node = node.one
            elif segment in _ANY:
                node.any = node.any or _Node()
                node = node.any
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
        for segment in segments:
            assert node is not None
            path.append((node, segment))
            if segment == _ONE:
                node = node.one
            elif segment in _ANY:
                node = node.any
            else:
                node = node.children.get(segment)
            if node is None:
                return
        assert node is not None
        if node.subscribers.pop(subscriber, 0) is None:
            self._patterns -= 1
        for parent, segment in reversed(path):  # prune empty branches
            if not node.empty():
                break
            if segment == _ONE:
                parent.one = None
            elif segment in _ANY:
                parent.any = None
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
