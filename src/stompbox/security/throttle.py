"""Per-address bounds against abuse: open connections, CONNECT attempts, failed logins.

Plain objects that take ``now`` (a monotonic clock) as an argument, so that each rule is
tested without sleeping. Each table is bounded: an attacker with many addresses makes the
oldest entries go, never the server's memory grow.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["AddressCounter", "FailureDelay", "RateLimit"]

_TABLE_LIMIT = 65_536


class AddressCounter:
    """Open connections per source address, refused past ``limit``."""

    __slots__ = ("_open", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        count = self._open.get(address, 0)
        if count >= self.limit:
            return False
        self._open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def count(self, address: str) -> int:
        return self._open.get(address, 0)


class RateLimit:
    """At most ``per_minute`` events per address per minute: a bucket of that many that
    refills evenly over a minute, so a burst up to the limit passes and a steady stream
    above it does not."""

    __slots__ = ("_buckets", "per_minute")

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """address -> (tokens left, when counted)"""

    def take(self, address: str, now: float) -> bool:
        capacity = float(self.per_minute)
        tokens, then = self._buckets.pop(address, (capacity, now))
        tokens = min(capacity, tokens + (now - then) * capacity / 60.0)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if tokens < capacity:  # a full bucket is the default: no need to keep it
            self._buckets[address] = (tokens, now)
            if len(self._buckets) > _TABLE_LIMIT:
                self._buckets.popitem(last=False)
        return allowed


class FailureDelay:
    """A growing delay for an address whose logins fail: ``first`` seconds after the
    first failure, doubling with each one up to ``limit``; forgotten after ``window``
    seconds without one. :meth:`wait` is how long the next attempt from the address must
    wait before it is even checked, so that parallel connections do not get around it."""

    __slots__ = ("_failures", "first", "limit", "window")

    def __init__(self, first: float = 0.1, limit: float = 10.0, window: float = 600.0) -> None:
        self.first = first
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        """address -> (failures, until when the next attempt waits)"""

    def wait(self, address: str, now: float) -> float:
        """Seconds the next attempt from ``address`` must wait (0: none)."""
        entry = self._failures.get(address)
        if entry is None:
            return 0.0
        until = entry[1]
        if now - until > self.window:
            del self._failures[address]
            return 0.0
        return max(until - now, 0.0)

    def failed(self, address: str, now: float) -> float:
        """Count a failure; returns the delay it earns, which the next attempt waits out."""
        failures, until = self._failures.pop(address, (0, now))
        if now - until > self.window:
            failures = 0
        failures += 1
        delay: float = min(self.first * 2.0 ** (failures - 1), self.limit)
        self._failures[address] = (failures, max(until, now) + delay)
        if len(self._failures) > _TABLE_LIMIT:
            self._failures.popitem(last=False)
        return delay
