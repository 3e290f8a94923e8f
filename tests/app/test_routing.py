"""Handler patterns and the router, without a server: the same segment wildcards as the
broker's subscriptions."""

from __future__ import annotations

import pytest

from stompbox.app import MessageRoute, Pattern, Router, SubscribeRoute
from stompbox.broker.matching import TopicIndex


def handler() -> None: ...


@pytest.mark.parametrize(
    ("pattern", "separator", "matches", "misses"),
    [
        (
            "price.stock.*",
            "/",
            ["price.stock.MMM", "price.stock."],
            ["price.stock", "price.stock.M/x"],
        ),
        ("thing*", "/", ["things", "thing"], ["thin", "things/x"]),
        ("a/x*/c", "/", ["a/xy/c"], ["a/xy/z/c", "a/y/c"]),
        ("*", "/", ["a", "price.stock.MMM"], ["a/b", ""]),
        ("**", "/", ["a", "a/b/c"], []),
        ("a/**", "/", ["a", "a/b", "a/b/c"], ["b"]),
        ("**/c", "/", ["c", "a/c", "a/b/c"], ["a/b"]),
        ("a/**/c", "/", ["a/c", "a/x/y/c"], ["a/x/d", "ac"]),
        ("a/#", "/", ["a", "a/b/c"], ["ab"]),
        ("**/**/c", "/", ["c", "a/b/c"], ["a/b"]),
        ("price.s*", ".", ["price.stock", "price.s"], ["price.stock.x"]),
        ("price.*", ".", ["price.stock"], ["price.stock.x", "price"]),
        ("a*.**", ".", ["a", "ab.c.d"], ["b.a"]),
        ("a*", ".", ["a/b"], ["a.b"]),
        ("a+(b)*", "/", ["a+(b)x"], ["aab"]),
    ],
)
def test_segment_wildcards_match_as_the_broker_does(
    pattern: str, separator: str, matches: list[str], misses: list[str]
) -> None:
    compiled = Pattern(pattern, separator)
    assert not compiled.literal
    index: TopicIndex[str] = TopicIndex(separator)
    index.add(f"/topic/{pattern}", "/topic/", "s")
    for path in matches:
        assert compiled.match(path) == {}, path
        assert index.match(f"/topic/{path}", "/topic/") == ["s"], path
    for path in misses:
        assert compiled.match(path) is None, path
        if path:
            assert index.match(f"/topic/{path}", "/topic/") == [], path


@pytest.mark.parametrize("separator", ["/", "."])
def test_star_never_crosses_a_separator(separator: str) -> None:
    assert Pattern("a*z", separator).match(f"a{separator}z") is None
    assert Pattern("a*z", separator).match("a-z") == {}


def test_variables_beside_a_star() -> None:
    assert Pattern("room/{id}-*").match("room/7-lobby") == {"id": "7"}
    assert Pattern("room/{id}-*").match("room/7/lobby") is None


def test_literal_patterns() -> None:
    pattern = Pattern("/greet/")
    assert pattern.literal
    assert pattern.match("greet") == {}
    assert pattern.match("greets") is None


def test_router_finds_literal_then_patterns_by_kind() -> None:
    exact = MessageRoute("things", handler)
    star = MessageRoute("thing*", handler)
    on_subscribe = SubscribeRoute("thing*", handler)
    router = Router([exact, star, on_subscribe])
    assert router.find("/things", subscribe=False) == (exact, {})
    assert router.find("thingy", subscribe=False) == (star, {})
    assert router.find("thingy", subscribe=True) == (on_subscribe, {})
    assert router.find("thing/y", subscribe=False) is None


def test_routes_as_data_and_groups_under_a_prefix(transport: str) -> None:
    """``StompApp(routes=...)``, ``Router(prefix=..., reply=...)`` and ``include_router``
    do what the decorators do; a handler's own decorator overrides its group's reply."""
    from stompbox.app import ExceptionRoute, MessageRoute, Reply, Router, StompApp, send_to

    from ..support import run
    from .helpers import serving

    def fail(payload: str) -> None:
        raise KeyError(payload)

    def on_key_error(exc: KeyError) -> str:
        return f"no {exc.args[0]}"

    @send_to("/topic/special")
    def special(payload: str) -> str:
        return payload

    orders = Router(prefix="/orders", reply=Reply(("/topic/orders",)))
    orders.add(MessageRoute("/new", lambda payload: f"new {payload}"))
    orders.add(MessageRoute("/special", special))

    @orders.message("/{order_id}/cancel")
    def cancel(order_id: int) -> str:
        return f"cancelled {order_id}"

    app = StompApp(
        routes=[
            MessageRoute("/fail", fail),
            ExceptionRoute(on_key_error, (KeyError,), reply=Reply(("/topic/errors",))),
        ]
    )
    app.include_router(orders, prefix="/shop")

    async def main() -> None:
        async with (
            serving(app, transport) as connect,
            connect() as client,
            client.subscribe("/topic/orders") as out,
            client.subscribe("/topic/special") as special_out,
            client.subscribe("/topic/errors") as errors,
        ):
            await client.send("/app/shop/orders/new", "book", receipt=True)
            assert (await out.get(5)).text == "new book"
            await client.send("/app/shop/orders/7/cancel", b"", receipt=True)
            assert (await out.get(5)).text == "cancelled 7"
            await client.send("/app/shop/orders/special", "x", receipt=True)
            assert (await special_out.get(5)).text == "x"  # its decorator, not the group's
            await client.send("/app/fail", "thing", receipt=True)
            assert (await errors.get(5)).text == "no thing"

    run(main())
