"""The figures of ``benchmarks/broker.py --json`` as a markdown table and as plots.

    python benchmarks/report.py build/bench/broker.json            # print the table
    python benchmarks/report.py build/bench/broker.json --plots docs --doc docs/performance.md

``--plots DIR`` writes ``perf-fanout.png`` (deliveries/s against topic fan-out, log
scales) and ``perf-latency.png`` (latency percentiles side by side); it needs matplotlib
(``pip install -e '.[bench]'``). ``--doc FILE`` replaces the part of FILE between
``<!-- bench-report:start -->`` and ``<!-- bench-report:end -->`` with the table, so that
``make bench-report`` regenerates docs/performance.md's figures and plots in place.
The targets the broker is held to are data here, in :data:`GOALS`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OURS, THEIRS = "stompbox", "rabbitmq"
NAMES = {OURS: "stompbox", THEIRS: "RabbitMQ"}
COLOURS = {OURS: "tab:blue", THEIRS: "tab:orange"}
START, END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"
PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99.9", "p999"))
TRANSPORTS = {"tcp": "TCP", "ws": "WebSocket"}
TIMES = "\N{MULTIPLICATION SIGN}"

Figures = dict[str, dict[str, Any]]
"""Figure key -> what broker.py wrote for it (label, unit, higher_is_better, values, runs)."""


@dataclass(frozen=True, slots=True)
class Goal:
    """A target from the issue tracker, on one figure.

    ``kind``: ``ratio`` (stompbox/RabbitMQ at least ``bound``), ``share`` (stompbox's
    figure at least ``bound`` of stompbox's figure ``of``), ``at_most`` (stompbox's
    figure at most ``bound``)."""

    kind: str
    bound: float
    of: str = ""

    def text(self, unit: str) -> str:
        if self.kind == "ratio":
            return f"≥ {self.bound:g}{TIMES}"
        if self.kind == "share":
            return f"≥ {self.bound:.0%} of TCP"
        return f"≤ {self.bound:g} {unit}"

    def actual(self, key: str, figures: Figures) -> float | None:
        ours = figures[key]["values"].get(OURS)
        if ours is None:
            return None
        if self.kind == "ratio":
            return ratio(figures[key])
        if self.kind == "share":
            base = figures.get(self.of, {}).get("values", {}).get(OURS)
            return float(ours / base) if base else None
        return float(ours)

    def met(self, key: str, figures: Figures) -> bool | None:
        actual = self.actual(key, figures)
        if actual is None:
            return None
        return actual <= self.bound if self.kind == "at_most" else actual >= self.bound


GOALS: dict[str, tuple[Goal, ...]] = {
    "queue_tcp": (Goal("ratio", 7),),
    "topic_tcp_10": (Goal("ratio", 30),),
    "topic_tcp_100": (Goal("ratio", 60),),
    "queue_ws": (Goal("ratio", 4), Goal("share", 0.8, of="queue_tcp")),
    "idle_ws": (Goal("at_most", 8),),
}


def ratio(figure: dict[str, Any]) -> float | None:
    """How many times better stompbox is (above 1 is better, whichever way the unit goes)."""
    ours, theirs = figure["values"].get(OURS), figure["values"].get(THEIRS)
    if not ours or not theirs:
        return None
    return float(ours / theirs if figure["higher_is_better"] else theirs / ours)


def load(path: str) -> tuple[dict[str, Any], Figures]:
    document = json.loads(Path(path).read_text())
    return document["meta"], {figure["key"]: figure for figure in document["figures"]}


def fanouts(figures: Figures, transport: str) -> list[int]:
    prefix = f"topic_{transport}_"
    return sorted(int(key.removeprefix(prefix)) for key in figures if key.startswith(prefix))


def _order(key: str) -> tuple[int, int, bool, int]:
    """Throughput (TCP, then WebSocket; queue before topics by fan-out), latency, memory."""
    kind, transport, *rest = key.split("_")
    section = {"queue": 0, "topic": 0, "latency": 1, "idle": 2}[kind]
    fanout = int(rest[0]) if kind == "topic" else 0
    return section, list(TRANSPORTS).index(transport), kind == "topic", fanout


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "deliveries/s" or value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _times(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}{TIMES}"


def _goals(key: str, figures: Figures) -> str:
    parts = []
    for goal in GOALS.get(key, ()):
        met = goal.met(key, figures)
        mark = "" if met is None else (" ✓" if met else " ✗")
        now = ""
        if goal.kind == "share" and (actual := goal.actual(key, figures)) is not None:
            now = f" (now {actual:.0%})"
        parts.append(f"{goal.text(figures[key]['unit'])}{now}{mark}")
    return "; ".join(parts)


def _latency_row(transport: str, figures: Figures) -> str:
    present = [(n, figures[f"latency_{transport}_{a}"]) for n, a in PERCENTILES]
    label = present[0][1]["label"].split(" latency ", 1)[1]
    cells = [" / ".join(_number(f["values"].get(who), "ms") for _, f in present) for who in NAMES]
    times = " / ".join(_times(ratio(f)) for _, f in present)
    names = " / ".join(n for n, _ in present)
    return f"| {names} latency {label} (ms) | {cells[0]} | {cells[1]} | {times} | |"


def table(meta: dict[str, Any], figures: Figures) -> str:
    """The markdown table with a caption: one row per figure, latency percentiles joined."""
    theirs = meta.get("servers", {}).get(THEIRS) or "RabbitMQ"
    rows = [
        f"| figure | stompbox | {theirs.replace('/', ' ')} | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for key in sorted(figures, key=_order):
        figure = figures[key]
        if key.startswith("latency_"):
            if key.endswith("_p50"):
                rows.append(_latency_row(key.split("_")[1], figures))
            continue
        unit = figure["unit"]
        missing = figure.get("runs", {}).get(OURS, {}).get("missing")
        note = f" ({missing:,.0f} missing)" if missing else ""
        rows.append(
            f"| {figure['label'].replace('->', '→')} ({unit}) "
            f"| {_number(figure['values'].get(OURS), unit)}{note} "
            f"| {_number(figure['values'].get(THEIRS), unit)} "
            f"| {_times(ratio(figure))} | {_goals(key, figures)} |"
        )
    args = meta.get("arguments", {})
    when = meta.get("date", "?").replace("T", " ").replace("+00:00", " UTC")
    caption = (
        f"Measured {when} at commit {meta.get('commit', '?')} on {meta.get('cpus', '?')} "
        f"cores ({meta.get('cpu', '?')}), Python {meta.get('python', '?')}, websockets "
        f"{meta.get('websockets', '?')}: queue runs of {args.get('messages', 0):,} messages, "
        f"topic runs of about {args.get('fanout_deliveries', 0):,} deliveries, latency over "
        f"{args.get('seconds', 0):g} s at {args.get('rate', 0):,} msg/s, "
        f"{args.get('connections', 0):,} idle TCP and {args.get('ws_connections', 0):,} idle "
        f"WebSocket connections"
    )
    changed = meta.get("changed", {})
    if changed:
        flags = " ".join(
            f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in changed.items()
        )
        caption += f" (a run resized from the defaults with `{flags}`)"
    if "load_average" in meta:
        before, after = meta["load_average"]
        caption += f"; 1-minute load average {before:.1f} at the start and {after:.1f} at the end"
    caption += (
        f". Ratios are stompbox/RabbitMQ, above 1{TIMES} in stompbox's favour (for latency "
        "and memory, RabbitMQ's figure over stompbox's)."
    )
    return caption + "\n\n" + "\n".join(rows) + "\n"


def update_doc(path: str, text: str) -> None:
    """Replace what lies between the bench-report markers in ``path`` with ``text``."""
    doc = Path(path).read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(doc):
        raise SystemExit(f"{path} has no {START} ... {END} section to replace")
    Path(path).write_text(pattern.sub(lambda _: f"{START}\n{text}{END}", doc))


def plot_fanout(plt: Any, figures: Figures, path: Path) -> None:
    """Deliveries/s against subscribers, log-log, with stompbox/RabbitMQ over each TCP point."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for transport, style in (("tcp", "-"), ("ws", "--")):
        ns = fanouts(figures, transport)
        if len(ns) < 2:
            continue  # a lone point is in the table
        for who in NAMES:
            points = [
                (n, values[who])
                for n in ns
                if who in (values := figures[f"topic_{transport}_{n}"]["values"])
            ]
            if points:
                label = f"{NAMES[who]}, {TRANSPORTS[transport]}"
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, marker="o", color=COLOURS[who], label=label)
    for n in fanouts(figures, "tcp"):
        figure = figures[f"topic_tcp_{n}"]
        if (times := ratio(figure)) is not None:
            ax.annotate(
                f"{times:.0f}{TIMES}",
                (n, figure["values"][OURS]),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=9,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 1.6)  # room for the ratios above the top points
    ax.set_xlabel("subscribers to one topic (fan-out)")
    ax.set_ylabel("deliveries per second")
    ax.set_title("Topic fan-out: one producer, 128-byte bodies, auto ack")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(plt: Any, figures: Figures, rate: int, path: Path) -> None:
    """Percentile bars, stompbox beside RabbitMQ, one panel per transport."""
    transports = [t for t in TRANSPORTS if f"latency_{t}_p50" in figures]
    fig, axes = plt.subplots(
        1, len(transports), figsize=(5 * len(transports), 4), sharey=True, squeeze=False
    )
    width = 0.38
    for ax, transport in zip(axes[0], transports, strict=True):
        for offset, who in ((-width / 2, OURS), (width / 2, THEIRS)):
            heights = [
                figures[f"latency_{transport}_{attr}"]["values"].get(who, 0.0)
                for _, attr in PERCENTILES
            ]
            lefts = [i + offset for i in range(len(PERCENTILES))]
            bars = ax.bar(lefts, heights, width, color=COLOURS[who], label=NAMES[who])
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_xticks(range(len(PERCENTILES)), [name for name, _ in PERCENTILES])
        ax.set_yscale("log")
        ax.set_title(TRANSPORTS[transport])
        ax.grid(True, axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("milliseconds, sender to receiver")
    axes[0][0].legend()
    fig.suptitle(f"Latency percentiles, queue 1→1 at {rate:,} messages/s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plots(meta: dict[str, Any], figures: Figures, directory: str) -> list[Path]:
    """perf-fanout.png and perf-latency.png in ``directory``, for what the run measured."""
    import matplotlib  # type: ignore[import-not-found, unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if fanouts(figures, "tcp") or fanouts(figures, "ws"):
        written.append(out / "perf-fanout.png")
        plot_fanout(plt, figures, written[-1])
    if any(f"latency_{t}_p50" in figures for t in TRANSPORTS):
        written.append(out / "perf-latency.png")
        plot_latency(plt, figures, int(meta.get("arguments", {}).get("rate", 0)), written[-1])
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("json", help="what benchmarks/broker.py --json wrote")
    parser.add_argument("--plots", metavar="DIR", help="write the PNG plots there")
    parser.add_argument("--doc", metavar="FILE", help="replace the table in this markdown file")
    args = parser.parse_args()
    meta, figures = load(args.json)
    text = table(meta, figures)
    if args.doc:
        update_doc(args.doc, text)
        print(f"table updated in {args.doc}")
    else:
        sys.stdout.write(text)
    if args.plots:
        for path in plots(meta, figures, args.plots):
            print(f"plot written to {path}")


if __name__ == "__main__":
    main()
