"""Per-address bounds, driven with a clock that is an argument."""

from __future__ import annotations

import pytest

from stompbox.security.throttle import AddressCounter, FailureDelay, RateLimit


def test_connections_per_address_are_counted_and_released() -> None:
    counter = AddressCounter(2)
    assert counter.acquire("10.0.0.1") and counter.acquire("10.0.0.1")
    assert not counter.acquire("10.0.0.1")
    assert counter.acquire("10.0.0.2")  # another address has its own count
    counter.release("10.0.0.1")
    assert counter.acquire("10.0.0.1")
    counter.release("10.0.0.1")
    counter.release("10.0.0.1")
    assert counter.count("10.0.0.1") == 0


def test_rate_limit_lets_a_burst_through_then_refills_evenly() -> None:
    limit = RateLimit(per_minute=6)
    assert all(limit.take("a", 0.0) for _ in range(6))
    assert not limit.take("a", 0.0)
    assert limit.take("b", 0.0)  # per address
    assert not limit.take("a", 9.0)  # 0.9 of a token back
    assert limit.take("a", 10.5)
    assert not limit.take("a", 10.5)
    assert all(limit.take("a", 100.0) for _ in range(6))  # full again, and no fuller


def test_failure_delay_doubles_per_failure_up_to_its_limit() -> None:
    delay = FailureDelay(first=0.1, limit=1.0, window=60.0)
    assert delay.wait("a", 0.0) == 0.0
    delays = [delay.failed("a", 0.0) for _ in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    # parallel attempts queue up behind each other: the next waits out them all
    assert delay.wait("a", 0.0) == pytest.approx(sum(delays))
    assert delay.wait("b", 0.0) == 0.0


def test_failures_are_forgotten_after_a_quiet_window() -> None:
    delay = FailureDelay(first=0.1, limit=10.0, window=60.0)
    for _ in range(5):
        delay.failed("a", 0.0)
    assert delay.wait("a", 100.0) == 0.0
    assert delay.failed("a", 100.0) == pytest.approx(0.1)


def test_tables_stay_bounded_however_many_addresses() -> None:
    limit = RateLimit(per_minute=1)
    delay = FailureDelay()
    for n in range(70_000):
        limit.take(f"a{n}", 0.0)
        delay.failed(f"a{n}", 0.0)
    assert len(limit._buckets) <= 65_536
    assert len(delay._failures) <= 65_536
