"""TopicIndex and segment patterns: which subscriptions a destination reaches, unit by
unit, and the broker's refusals of destinations that hold a ``*`` inside a segment."""

from __future__ import annotations

import pytest

from stompbox.broker import Broker, BrokerConfig, BrokerError
from stompbox.broker.matching import (
    TopicIndex,
    has_wildcard,
    is_segment_pattern,
    segment_matcher,
    split_destination,
)

from .test_broker import Client

P = "/topic/"


def reached(pattern: str, destination: str, separator: str = "/") -> bool:
    index: TopicIndex[str] = TopicIndex(separator)
    index.add(pattern, P, "s")
    return index.match(destination, P) == ["s"]


@pytest.mark.parametrize(
    ("pattern", "separator", "matches", "misses"),
    [
        # with "/", "price.stock.*" is one segment with a "*" in it (Spring, RabbitMQ)
        (
            "/topic/price.stock.*",
            "/",
            ["/topic/price.stock.MMM", "/topic/price.stock."],
            ["/topic/price.stock", "/topic/price.stock.MMM/x", "/topic/price.bond.X"],
        ),
        (
            "/topic/thing*",
            "/",
            ["/topic/things", "/topic/thing"],
            ["/topic/thin", "/topic/thing/s"],
        ),
        ("/topic/*thing", "/", ["/topic/something"], ["/topic/some/thing"]),
        ("/topic/a*b*c", "/", ["/topic/abc", "/topic/a-b-c", "/topic/aXbYc"], ["/topic/ab/c"]),
        ("/topic/a/x*/c", "/", ["/topic/a/xy/c"], ["/topic/a/xy/z/c", "/topic/a/y/c"]),
        ("/topic/*", "/", ["/topic/a", "/topic/price.stock.MMM"], ["/topic/a/b"]),
        ("/topic/**", "/", ["/topic/a", "/topic/a/b/c"], []),
        (
            "/topic/price.s*",
            ".",
            ["/topic/price.stock", "/topic/price.s"],
            ["/topic/price.stock.x"],
        ),
        ("/topic/price.*", ".", ["/topic/price.stock"], ["/topic/price.stock.x", "/topic/price"]),
        ("/topic/price.#", ".", ["/topic/price", "/topic/price.a.b"], ["/topic/prices"]),
        ("/topic/a*.**", ".", ["/topic/a", "/topic/ab.c.d"], ["/topic/b.a"]),
        # with ".", "/" is an ordinary character: a "*" in a segment may match it
        ("/topic/a*", ".", ["/topic/a/b"], ["/topic/a.b"]),
        # special characters of regular expressions are literal
        ("/topic/a+(b)*", "/", ["/topic/a+(b)x"], ["/topic/aab"]),
    ],
)
def test_segment_wildcards(
    pattern: str, separator: str, matches: list[str], misses: list[str]
) -> None:
    for destination in matches:
        assert reached(pattern, destination, separator), destination
    for destination in misses:
        assert not reached(pattern, destination, separator), destination


@pytest.mark.parametrize("separator", ["/", "."])
def test_star_never_crosses_a_separator(separator: str) -> None:
    matches = segment_matcher("a*z", separator)
    assert matches("a-z")
    assert not matches(f"a{separator}z")
    assert not reached("/topic/a*z", f"/topic/a{separator}z", separator)


def test_exact_and_pattern_subscribers_each_once_in_order() -> None:
    index: TopicIndex[str] = TopicIndex("/")
    index.add("/topic/things", P, "exact")
    index.add("/topic/thing*", P, "star")
    index.add("/topic/t*s", P, "star")  # a second pattern node beside the first
    index.add("/topic/thing*", P, "other")
    index.add("/topic/*", P, "star")  # the same subscriber through two patterns
    assert index.match("/topic/things", P) == ["exact", "star", "other"]
    assert len(index) == 5


def test_remove_prunes_segment_patterns() -> None:
    index: TopicIndex[str] = TopicIndex("/")
    index.add("/topic/thing*/x", P, "a")
    index.add("/topic/thing*/y", P, "b")
    index.remove("/topic/thing*/x", P, "a")
    assert index.match("/topic/things/x", P) == []
    assert index.match("/topic/things/y", P) == ["b"]
    index.remove("/topic/thing*/y", P, "b")
    index.remove("/topic/nothing*", P, "b")  # never added: no error
    assert len(index) == 0
    assert index.match("/topic/things/y", P) == []
    assert index._root.empty()  # no branch left behind


def test_wildcard_detection() -> None:
    def wild(destination: str, separator: str = "/") -> bool:
        return has_wildcard(split_destination(destination, P, separator))

    assert wild("/topic/price.stock.*")
    assert wild("/topic/thing*")
    assert wild("/topic/*")
    assert wild("/topic/a/**")
    assert wild("/topic/a.#", ".")
    assert not wild("/topic/a#b")
    assert not wild("/topic/price.stock.MMM")
    assert is_segment_pattern("thing*")
    assert not is_segment_pattern("*")
    assert not is_segment_pattern("**")
    assert not is_segment_pattern("thing")


def test_broker_delivers_to_segment_patterns() -> None:
    broker = Broker()
    sub, producer = Client(broker), Client(broker)
    sub.subscribe("/topic/price.stock.*")
    for destination in ("/topic/price.stock.MMM", "/topic/price.bond.X", "/topic/price.stock"):
        producer.send(destination, destination.encode())
    assert sub.bodies() == [b"/topic/price.stock.MMM"]


def test_broker_delivers_to_segment_patterns_with_dot_separator() -> None:
    broker = Broker(BrokerConfig(separator="."))
    sub, producer = Client(broker), Client(broker)
    sub.subscribe("/topic/price.st*")
    for destination in ("/topic/price.stock", "/topic/price.stock.MMM", "/topic/price.bond"):
        producer.send(destination, destination.encode())
    assert sub.bodies() == [b"/topic/price.stock"]


def test_send_to_a_star_inside_a_segment_is_refused() -> None:
    with pytest.raises(BrokerError, match="wildcards"):
        Client(Broker()).send("/topic/price.stock.*")


def test_queue_subscription_with_a_star_inside_a_segment_is_refused() -> None:
    with pytest.raises(BrokerError, match="topics only"):
        Client(Broker()).subscribe("/queue/work*")
