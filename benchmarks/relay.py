"""Scale-out figures: messages through stompbox instances relaying to RabbitMQ, beside the
embedded broker and RabbitMQ's STOMP directly, under one load.

Four setups, each measured with the load of ``benchmarks/broker.py`` (``stompbox bench``'s
producer and consumer processes, pre-built frames, receivers that count NULs):

- ``stompbox``: plain ``stompbox serve``, the embedded broker (no relay);
- ``relay-1``: one ``stompbox serve --relay`` before RabbitMQ, producer and consumers on
  that instance (each client's frames go to RabbitMQ and back through it);
- ``relay-2``: two such instances; the producer on instance A, the queue's consumer on
  instance B, the topic's subscribers split between A and B;
- ``rabbitmq``: RabbitMQ's STOMP plugin directly (``scripts/rabbitmq.sh start``, 61623).

Scenarios: queue 1->1 (messages/s) and topic 1->N (``--fanout``, 10; deliveries/s, a
receipt closing every 200 SENDs and at most two windows unconfirmed). Beside each figure
is the CPU each stompbox process and RabbitMQ used meanwhile (from /proc, over the whole
run, its setup included), as a share of a core and in microseconds per delivery: where
everything shares a few cores, what a message costs says more than who is at 100%. Then
the ratios: each relay setup against the embedded broker and against RabbitMQ directly,
and two instances against one.

The stompbox processes are started here on free ports and stopped (SIGTERM) at the end.
Destinations are named for the run (a uuid), so that nothing RabbitMQ kept from an earlier
run is counted. RabbitMQ makes ``/queue/...`` a durable queue that outlives the run: the
queue runs share one (each drains it), and its name is printed at the end, for
``rabbitmqctl delete_queue``. The producer confirms its connection with a receipt before
sending, since a relaying instance answers CONNECTED before the client's own connection
to the broker is up and holds at most ``outage_buffer`` of SENDs meanwhile.

    python benchmarks/relay.py
    python benchmarks/relay.py --setups relay-1,relay-2 --scenarios queue
    python benchmarks/relay.py --messages 100000 --fanout 100 --json build/bench/relay.json
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too

from benchmarks.broker import (
    Figure,
    Target,
    cpu_seconds,
    free_port,
    rabbitmq_pid,
    reachable,
    server_header,
    start_stompbox,
    wait_quiet,
    write_json,
)
from stompbox.cli.load import flow

SETUPS = ("stompbox", "relay-1", "relay-2", "rabbitmq")
WINDOW = 200
"""SENDs per receipt in the topic runs, as ``benchmarks/broker.py`` has it."""
RATIOS = (
    ("relay-1", "stompbox"),
    ("relay-1", "rabbitmq"),
    ("relay-2", "relay-1"),
    ("relay-2", "rabbitmq"),
)


@dataclass
class Setup:
    """One way of serving the load: where the producer and the subscribers connect, and
    whose CPU time counts."""

    target: Target
    """Its name, the producer's URL (``target.url``) and the figures."""
    queue_urls: list[str]
    """Where the queue's consumer connects."""
    topic_urls: list[str]
    """Where the topic's subscribers connect, in turn."""
    pids: dict[str, int]
    """Processes whose CPU time is shown, by name: ``stompbox A``, ``RabbitMQ``..."""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def start_instances(count: int, relay: str | None, scratch: Path) -> list[Target]:
    """``count`` ``stompbox serve`` processes on free ports, relaying to ``relay`` if given."""
    targets: list[Target] = []
    try:
        for i in range(count):
            directory = scratch / f"instance-{i}"
            directory.mkdir(exist_ok=True)
            extra = ["--relay", relay] if relay is not None else []
            targets.append(start_stompbox(free_port(), 0, directory, extra=extra))
    except BaseException:
        terminate([t.process for t in targets if t.process is not None])
        raise
    return targets


def terminate(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each, then wait for each (and kill what does not end in 15 s)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def make_setup(name: str, args: argparse.Namespace, scratch: Path, broker: str) -> Setup:
    """Start what ``name`` needs (nothing for ``rabbitmq``)."""
    rabbit = rabbitmq_pid()
    if name == "rabbitmq":
        target = Target(name, args.rabbitmq_url, None, rabbit)
        target.server = broker
        return Setup(target, [args.rabbitmq_url], [args.rabbitmq_url], _pids({}, rabbit))
    relay = None if name == "stompbox" else args.rabbitmq_url
    instances = start_instances(2 if name == "relay-2" else 1, relay, scratch)
    first = instances[0]
    target = Target(name, first.url, None, first.pid)
    target.server = first.server + (f" -> {broker}" if relay else "")
    urls = [instance.url for instance in instances]
    labels = ["stompbox A", "stompbox B"] if len(instances) == 2 else ["stompbox"]
    pids = {
        label: instance.pid
        for label, instance in zip(labels, instances, strict=True)
        if instance.pid is not None
    }
    return Setup(
        target,
        queue_urls=urls[-1:],  # on the other instance, when there are two
        topic_urls=urls,
        pids=_pids(pids, rabbit if relay else None),
        processes=[i.process for i in instances if i.process is not None],
    )


def _pids(pids: dict[str, int], rabbit: int | None) -> dict[str, int]:
    return pids if rabbit is None else {**pids, "RabbitMQ": rabbit}


def measure(setup: Setup, args: argparse.Namespace, catalogue: dict[str, Figure], run: str) -> None:
    target = setup.target
    print(f"== {target.name} ({target.server})", flush=True)
    scenarios = args.scenarios.split(",")
    if "queue" in scenarios:
        figure = Figure("queue", "queue 1->1", "msg/s", True)
        destination = f"/queue/{args.queue_names[-1]}"
        urls = setup.queue_urls
        missing = throughput(setup, figure, catalogue, urls, destination, 1, args.messages, None)
        if missing and target.name != "stompbox":
            # what was not delivered is still there: the next queue run starts afresh
            args.queue_names.append(f"stompbox-relay-bench-{run}-{len(args.queue_names) + 1}")
    if "topic" in scenarios:
        n = args.fanout
        figure = Figure(f"topic_{n}", f"topic 1->{n}", "deliveries/s", True)
        destination = f"/topic/stompbox-relay-bench-{run}"
        messages = max(WINDOW, min(args.messages, args.fanout_deliveries // n))
        throughput(setup, figure, catalogue, setup.topic_urls, destination, n, messages, WINDOW)


def throughput(
    setup: Setup,
    figure: Figure,
    catalogue: dict[str, Figure],
    urls: list[str],
    destination: str,
    subscribers: int,
    messages: int,
    window: int | None,
) -> int:
    """Run one flow, show and keep its figure; return the deliveries that did not come."""
    for pid in setup.pids.values():
        wait_quiet(pid)
    before = {name: cpu_seconds(pid) for name, pid in setup.pids.items()}
    start = time.monotonic()
    result = flow(
        urls,
        destination,
        subscribers,
        messages,
        window=window,
        producer_url=setup.target.url,
        confirm=True,
    )
    wall = time.monotonic() - start
    used = {name: cpu_seconds(pid) - before[name] for name, pid in setup.pids.items()}
    missing = result.expected - result.deliveries
    catalogue.setdefault(figure.key, figure)
    setup.target.results[figure.key] = result.rate
    setup.target.runs[figure.key] = {
        "subscribers": subscribers,
        "messages": result.expected // subscribers,
        "deliveries": result.deliveries,
        "missing": missing,
        "seconds": result.seconds,
        "wall_seconds": wall,
        **{f"cpu_seconds {name}": seconds for name, seconds in used.items()},
    }
    per = max(result.deliveries, 1)
    cpu = ", ".join(
        f"{name} {seconds / wall:.0%} {seconds / per * 1e6:.0f} us"
        for name, seconds in used.items()
    )
    note = f"  ({missing:,} deliveries missing)" if missing else ""
    print(
        f"  {figure.label:<16}{result.rate:>12,.0f} {figure.unit:<13} cpu: {cpu}{note}",
        flush=True,
    )
    return missing


def show_ratios(targets: list[Target], catalogue: dict[str, Figure]) -> None:
    by_name = {target.name: target for target in targets}
    lines = []
    for key, figure in catalogue.items():
        for ours, theirs in RATIOS:
            if ours in by_name and theirs in by_name:
                a = by_name[ours].results.get(key)
                b = by_name[theirs].results.get(key)
                if a and b:
                    lines.append(f"  {figure.label:<16}{ours + ' / ' + theirs:<24}{a / b:>8.2f}x")
    if lines:
        print("== ratios")
        print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setups", default=",".join(SETUPS), help=", ".join(SETUPS))
    parser.add_argument("--scenarios", default="queue,topic", help="queue, topic or both")
    parser.add_argument("--messages", type=int, default=50_000, help="queue 1->1 messages")
    parser.add_argument("--fanout", type=int, default=10, help="topic 1->N: N")
    parser.add_argument(
        "--fanout-deliveries",
        type=int,
        default=200_000,
        help="deliveries per topic run (messages = this / N)",
    )
    parser.add_argument("--rabbitmq-url", default="stomp://guest:guest@127.0.0.1:61623/")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    args.load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    names = [name.strip() for name in args.setups.split(",") if name.strip()]
    unknown = set(names) - set(SETUPS)
    if unknown:
        parser.error(f"unknown setup(s) {', '.join(sorted(unknown))}; choose from {SETUPS}")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20_000), hard))
    broker = ""
    if any(name != "stompbox" for name in names):
        if not reachable(args.rabbitmq_url, 1.0):
            raise SystemExit(
                f"RabbitMQ does not answer at {args.rabbitmq_url}; run scripts/rabbitmq.sh start"
            )
        broker = server_header(args.rabbitmq_url) or "RabbitMQ"
    run = uuid.uuid4().hex[:8]
    args.queue_names = [f"stompbox-relay-bench-{run}"]
    scratch = tempfile.TemporaryDirectory(prefix="stompbox-relay-bench-")
    catalogue: dict[str, Figure] = {}
    targets: list[Target] = []
    began = time.monotonic()
    try:
        for name in names:
            setup = make_setup(name, args, Path(scratch.name), broker)
            targets.append(setup.target)
            try:
                measure(setup, args, catalogue, run)
            finally:
                terminate(setup.processes)
    finally:
        scratch.cleanup()
    show_ratios(targets, catalogue)
    print(f"== {time.monotonic() - began:.0f} s in all")
    if broker and "queue" in args.scenarios:
        print(
            f"RabbitMQ keeps the durable queue(s) {', '.join(args.queue_names)}; "
            "`rabbitmqctl delete_queue NAME` removes one"
        )
    if args.json:
        write_json(args.json, targets, catalogue, args, parser)


if __name__ == "__main__":
    main()
