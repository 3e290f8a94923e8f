"""The server's frame counting for /metrics: which kind an ERROR is counted as, and how
durations fall into the latency buckets."""

from __future__ import annotations

import pytest

from stompbox.protocol import LimitExceeded, RemoteProtocolError
from stompbox.server.traffic import ERROR_KINDS, LATENCY_BOUNDS, Latency, error_kind


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("access denied", "access denied"),
        ("unknown virtual host", "access denied"),
        ("authentication failed", "authentication failed"),
        ("server shutting down", "closed"),
        ("closed by an administrator", "closed"),
        ("internal error", "internal error"),
        ("unknown destination", "invalid frame"),
        ("invalid destination", "invalid frame"),
        ("duplicate subscription", "invalid frame"),
        ("unknown ACK id", "invalid frame"),
        ("transaction already open", "invalid frame"),
        ("max_subscriptions limit of 10 exceeded", "limit exceeded"),
        ("connect_attempts_per_minute limit of 60 exceeded", "limit exceeded"),
        ("queue full", "limit exceeded"),
        ("memory budget exceeded", "limit exceeded"),
        ("slow consumer", "slow consumer"),
        ("heart-beat timeout", "timeout"),
        ("connect timeout", "timeout"),
        ("frame timeout", "timeout"),
        ("an application's own words", "other"),
    ],
)
def test_an_error_is_counted_by_its_message(message: str, kind: str) -> None:
    assert error_kind(message) == kind
    assert kind in ERROR_KINDS


def test_an_error_the_client_caused_is_a_protocol_error_or_a_limit() -> None:
    assert error_kind("malformed frame", RemoteProtocolError("malformed frame")) == (
        "protocol error"
    )
    limit = LimitExceeded("max_frame_size", 1024)
    assert error_kind(limit.message, limit) == "limit exceeded"


def test_durations_fall_in_the_first_bucket_whose_bound_they_do_not_pass() -> None:
    latency = Latency()
    for seconds in (0.0, LATENCY_BOUNDS[0], LATENCY_BOUNDS[0] * 1.5, 0.001, 5.0):
        latency.observe(seconds)
    cumulative = dict(latency.cumulative())
    assert cumulative[str(LATENCY_BOUNDS[0])] == 2  # 0 and the bound itself: le
    assert cumulative[str(LATENCY_BOUNDS[1])] == 3
    assert cumulative["0.001"] == 4
    assert cumulative[str(LATENCY_BOUNDS[-1])] == 4
    assert cumulative["+Inf"] == latency.count == 5
    assert latency.total == pytest.approx(LATENCY_BOUNDS[0] * 2.5 + 5.001)
