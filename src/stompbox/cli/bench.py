"""``stompbox bench``: the load scenarios of :mod:`.load` against any broker, from a shell."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stompbox.net import parse_url

from .links import stomp_connect
from .load import FlowResult, flow, latency

__all__ = ["add_bench_command"]

SCENARIOS = ("queue", "topic", "latency")


def _bench(args: argparse.Namespace) -> int:
    try:
        url = parse_url(args.url)
        if url.scheme == "stomps":
            raise ValueError("bench speaks plain TCP or WebSocket: use stomp://, ws:// or wss://")
    except ValueError as exc:
        print(f"stompbox bench: {exc}", file=sys.stderr)
        return 2
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or not scenarios:
        named = f"unknown scenario(s) {', '.join(map(repr, unknown))}" if unknown else "none given"
        print(
            f"stompbox bench: --scenarios: {named}; choose from {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    try:
        stomp_connect(url).close()
    except Exception as exc:
        print(f"stompbox bench: cannot use {url.host}:{url.port}: {exc}", file=sys.stderr)
        return 1
    over = "WebSocket" if url.websocket else "TCP"
    print(f"stompbox bench against {url.host}:{url.port} over {over} (128-byte bodies, auto ack)")
    try:
        if "queue" in scenarios:
            result = flow(url, "/queue/stompbox-bench", 1, args.messages)
            _print_flow("queue 1->1", result)
        if "topic" in scenarios:
            result = flow(
                url, "/topic/stompbox-bench", args.subscribers, args.fanout_messages, window=200
            )
            _print_flow(f"topic 1->{args.subscribers}", result)
        if "latency" in scenarios:
            lat = latency(url, args.rate, args.seconds)
            print(
                f"  {f'latency at {args.rate:,} msg/s':<26}p50 {lat.p50:.2f} ms  "
                f"p90 {lat.p90:.2f} ms  p99 {lat.p99:.2f} ms  p99.9 {lat.p999:.2f} ms  "
                f"max {lat.max:.2f} ms ({lat.samples} samples)"
            )
    except OSError as exc:
        print(f"stompbox bench: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_flow(label: str, result: FlowResult) -> None:
    missing = result.expected - result.deliveries
    note = f"  ({missing} deliveries missing)" if missing else ""
    print(f"  {label:<26}{result.rate:>14,.0f} deliveries/s{note}")


def add_bench_command(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure a broker",
        description=(
            "Run load scenarios against any STOMP broker over TCP (stomp://) or WebSocket "
            "(ws://) and print deliveries/s and latency percentiles: queue 1->1, topic 1->N, "
            "latency at a fixed rate."
        ),
    )
    bench.add_argument("--url", default="stomp://guest:guest@localhost:61613/")
    bench.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from {', '.join(SCENARIOS)} (default all)",
    )
    bench.add_argument("--messages", type=int, default=100_000, help="queue 1->1 messages")
    bench.add_argument("--fanout-messages", type=int, default=10_000)
    bench.add_argument("--subscribers", type=int, default=100)
    bench.add_argument("--rate", type=int, default=2_000, help="latency: messages per second")
    bench.add_argument("--seconds", type=float, default=5.0, help="latency: run time")
    bench.set_defaults(func=_bench)
