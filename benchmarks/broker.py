"""End-to-end broker figures beside RabbitMQ: deliveries/s, latency, memory per connection.

Starts stompbox (``stompbox serve``) and, when it answers, measures RabbitMQ's STOMP and
Web-STOMP plugins too (``scripts/rabbitmq.sh start``), then prints the ratios
(stompbox/RabbitMQ, higher is better for stompbox). The load scenarios are those of
``stompbox bench`` (separate processes, pre-built frames, receivers count NULs):

- queue 1->1 over TCP and over WebSocket;
- topic 1->N over TCP for each N of ``--fanouts`` (and of ``--ws-fanouts`` over WebSocket),
  each run sending ``--fanout-deliveries / N`` messages;
- latency percentiles at 2,000 msg/s, over TCP and over WebSocket;
- resident memory per idle connection, over TCP and over WebSocket;
- ``persistent``: pipelined SENDs with a receipt each (at most ``--inflight`` unconfirmed)
  to a queue with one consumer, without and with ``persistent:true``, and their ratio.
  stompbox runs with a message store in a temporary directory for it.
- ``priority``: ``--priority-messages`` SENDs to a queue nobody consumes yet, then one
  consumer drains it, without a ``priority`` header and with priorities 0-9 in turn: the
  cost of a queue's priority backlog against its plain deque (docs/delivery.md).

    python benchmarks/broker.py
    python benchmarks/broker.py --only stompbox --scenarios queue,topic --json out.json
    python benchmarks/broker.py --only stompbox --scenarios persistent --transports tcp
    python benchmarks/broker.py --only stompbox --scenarios queue --auth   # authenticated
    python benchmarks/broker.py --only stompbox --scenarios priority --transports tcp
    python benchmarks/broker.py --only stompbox --scenarios topic --fanouts 100 --retain '/topic/*'

``--json`` writes every figure with its label, unit and per-broker value, which
``benchmarks/report.py`` turns into plots and the table of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from stompbox._version import __version__
from stompbox.cli.links import Link, open_link, read_frame, stomp_connect, subscribe
from stompbox.cli.load import BODY, flow, latency, open_idle
from stompbox.net import parse_url

PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99.9", "p999"))
SIZES = (
    "messages",
    "fanouts",
    "ws_fanouts",
    "fanout_deliveries",
    "rate",
    "seconds",
    "connections",
    "ws_connections",
    "persistent_messages",
    "inflight",
    "priority_messages",
)
"""The arguments that make a run longer or shorter than the documented one."""


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    """Stable name in the JSON (``topic_tcp_100``)."""
    label: str
    unit: str
    higher_is_better: bool


@dataclass
class Target:
    name: str
    url: str
    ws_url: str | None
    pid: int | None
    process: subprocess.Popen[bytes] | None = None
    server: str = ""
    """What CONNECTED's ``server`` header says (``RabbitMQ/3.10.8``)."""
    results: dict[str, float] = field(default_factory=dict)
    runs: dict[str, dict[str, float]] = field(default_factory=dict)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(pid: int | None, timeout: float = 30.0) -> None:
    """Wait until the broker uses under 5% of a core, so that one figure does not pay for
    the previous one's work (thousands of connections closing, a backlog draining)."""
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < 0.025:
            return
        last = now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reachable(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            stomp_connect(parse_url(url)).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def server_header(url: str) -> str:
    """The ``server`` header of the broker's CONNECTED frame, or ``""``."""
    broker = parse_url(url)
    link = open_link(broker)
    try:
        login = f"login:{broker.login}\npasscode:{broker.passcode}\n" if broker.login else ""
        link.send(f"CONNECT\naccept-version:1.2\nhost:{broker.vhost}\n{login}\n\0".encode())
        for line in read_frame(link).split(b"\n\n", 1)[0].split(b"\n"):
            if line.startswith(b"server:"):
                return line[7:].decode(errors="replace")
        return ""
    finally:
        link.close()


def start_stompbox(
    port: int,
    ws_port: int,
    scratch: Path,
    store: Path | None = None,
    auth: bool = False,
    extra: Sequence[str] = (),
    retain: Sequence[str] = (),
) -> Target:
    """``stompbox serve`` on these ports; with ``store``, persistent messages go there;
    with ``auth``, every connection authenticates as guest/guest against a users file;
    ``retain``: topics retained for resuming (``retain_topics``); ``extra``: more options
    (``--relay URL``).

    The per-address bounds are raised past what the benchmark opens from one address
    (thousands of idle connections), as RabbitMQ has none by default."""
    toml = scratch / "stompbox.toml"
    text = "[server]\nmax_connections_per_address = 20000\nconnect_attempts_per_minute = 1000000\n"
    if store is not None or retain:
        text += "[broker]\n"
    if store is not None:
        text += f"store = {json.dumps(str(store))}\n"
    if retain:
        text += f"retain_topics = {json.dumps(list(retain))}\n"
    if auth:
        from stompbox.security.passwords import hash_password

        text += f'[users]\nguest = "{hash_password("guest")}"\n'
    toml.write_text(text)
    config = ["--config", str(toml)]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stompbox.cli",
            "serve",
            "--port",
            str(port),
            "--ws-port",
            str(ws_port),
            "--log-level",
            "warning",
            *config,
            *extra,
        ]
    )
    url = f"stomp://guest:guest@127.0.0.1:{port}/"
    if not reachable(url, 15):
        process.kill()
        raise SystemExit("stompbox did not start")
    ws_url = f"ws://{'guest:guest@' if auth else ''}127.0.0.1:{ws_port}/ws"
    target = Target("stompbox", url, ws_url, process.pid, process)
    target.server = server_header(url) or f"stompbox/{__version__}"
    return target


def rabbitmq_pid() -> int | None:
    out = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    return max(pids, key=rss_kib) if pids else None


def idle_memory(pid: int, url: str, count: int, hold: list[Link]) -> float:
    """Resident KiB per idle connected STOMP connection, from the broker's RSS once it
    has settled.

    The connections stay open (in ``hold``) so that the next figure's connections cannot
    reuse the memory these free when they close."""
    wait_quiet(pid)
    before = rss_kib(pid)
    hold.extend(open_idle(url, count))
    time.sleep(1.0)
    wait_quiet(pid)
    return (rss_kib(pid) - before) / count


def _drain(url: str, destination: str, messages: int, ready: Any) -> None:
    """One auto-ack consumer that counts NULs until ``messages`` deliveries."""
    link = stomp_connect(parse_url(url))
    subscribe(link, destination)
    ready.send(True)
    got = 0
    while got < messages:
        data = link.recv()
        if not data:
            break
        got += data.count(b"\0")
    link.close()


def receipted(url: str, destination: str, messages: int, inflight: int, persistent: bool) -> float:
    """SENDs confirmed per second: each SEND asks for a RECEIPT, many go in one write and
    at most ``inflight`` wait for theirs; one consumer (another process) takes them."""
    ctx = mp.get_context("fork")
    ready_recv, ready_send = ctx.Pipe(False)
    consumer = ctx.Process(target=_drain, args=(url, destination, messages, ready_send))
    consumer.start()
    if not ready_recv.poll(30):
        consumer.kill()
        raise ConnectionError("the consumer did not subscribe within 30 s")
    link = stomp_connect(parse_url(url))
    extra = "persistent:true\n" if persistent else ""
    frame = (
        (
            f"SEND\ndestination:{destination}\ncontent-type:text/plain\n{extra}receipt:r\n"
            f"content-length:{len(BODY)}\n\n"
        ).encode()
        + BODY
        + b"\0"
    )
    per_write = min(link.frames_per_send, inflight)
    batch = frame * per_write
    sent = confirmed = 0
    start = time.monotonic()
    while confirmed < messages:
        if sent < messages and sent - confirmed + per_write <= inflight:
            count = min(per_write, messages - sent)
            link.send(batch if count == per_write else frame * count)
            sent += count
            continue
        data = link.recv()
        if not data:
            raise ConnectionError("broker closed the producer's connection")
        confirmed += data.count(b"\0")
    seconds = time.monotonic() - start
    link.close()
    consumer.join(60)
    return messages / seconds


def backlog_rates(
    url: str, destination: str, messages: int, priorities: bool
) -> tuple[float, float]:
    """SENDs per second into a queue nobody consumes (the last one receipted), then
    deliveries per second as one auto-ack consumer drains it. With ``priorities``, the
    SENDs carry ``priority`` 0 to 9 in turn, so the queue holds a priority backlog;
    without, an ``x-level`` header of the same values, so that both carry one header."""
    frames = []
    for level in range(10):
        extra = f"priority:{level}\n" if priorities else f"x-level:{level}\n"
        head = f"SEND\ndestination:{destination}\n{extra}content-length:{len(BODY)}\n\n"
        frames.append(head.encode() + BODY + b"\0")
    link = stomp_connect(parse_url(url))
    per_write = link.frames_per_send
    start = time.monotonic()
    for first in range(0, messages - 1, per_write):
        count = min(per_write, messages - 1 - first)
        link.send(b"".join(frames[(first + i) % 10] for i in range(count)))
    link.send(f"SEND\ndestination:{destination}\nreceipt:filled\n\nlast\0".encode())
    answer = b""
    while b"\0" not in answer:
        data = link.recv()
        if not data:
            raise ConnectionError("broker closed the producer's connection")
        answer += data
    if not answer.startswith(b"RECEIPT"):
        raise ConnectionError(f"broker refused the SENDs: {answer[:200]!r}")
    filled = time.monotonic()
    link.send(f"SUBSCRIBE\nid:0\ndestination:{destination}\nack:auto\n\n\0".encode())
    got = 0
    while got < messages:
        data = link.recv()
        if not data:
            raise ConnectionError("broker closed the consumer's connection")
        got += data.count(b"\0")
    drained = time.monotonic()
    link.close()
    return messages / (filled - start), messages / (drained - filled)


def fanout_messages(subscribers: int, args: argparse.Namespace) -> int:
    """Messages for a topic 1->N run: about ``--fanout-deliveries`` deliveries in all,
    at least one receipt window, at most ``--messages``."""
    return max(200, min(int(args.messages), int(args.fanout_deliveries) // subscribers))


def measure(target: Target, args: argparse.Namespace, catalogue: dict[str, Figure]) -> None:
    scenarios = args.scenarios.split(",")
    transports = args.transports.split(",")
    print(f"== {target.name} ({target.server}, {target.url})", flush=True)

    def show(figure: Figure, value: float, run: dict[str, float] | None = None) -> None:
        catalogue.setdefault(figure.key, figure)
        target.results[figure.key] = value
        if run:
            target.runs[figure.key] = run
        note = ""
        if run and run.get("missing"):
            note = f"  ({run['missing']:,.0f} deliveries missing)"
        print(f"  {figure.label:<44}{value:>14,.2f} {figure.unit}{note}", flush=True)

    def throughput(key: str, label: str, url: str, dest: str, subs: int, n: int) -> None:
        window = None if dest.startswith("/queue/") else 200
        wait_quiet(target.pid)
        result = flow(url, dest, subs, n, window=window)
        run = {
            "subscribers": subs,
            "messages": n,
            "deliveries": result.deliveries,
            "missing": result.expected - result.deliveries,
            "seconds": result.seconds,
        }
        show(Figure(key, label, "deliveries/s", True), result.rate, run)

    over: list[tuple[str, str, str, list[int]]] = []
    if "tcp" in transports:
        over.append(("tcp", "TCP", target.url, args.fanouts))
    if "ws" in transports and target.ws_url is not None:
        over.append(("ws", "WebSocket", target.ws_url, args.ws_fanouts))
    if "memory" in scenarios and target.pid is not None:
        # first, while the broker has not yet grown (and kept) memory for the load
        hold: list[Link] = []
        for key, name, url, _ in over:
            count = args.connections if key == "tcp" else args.ws_connections
            figure = Figure(f"idle_{key}", f"memory per idle {name} connection", "KiB", False)
            show(figure, idle_memory(target.pid, url, count, hold), {"connections": count})
        for link in hold:
            link.close()
    for key, name, url, fanouts in over:
        if "queue" in scenarios:
            label = f"queue 1->1, {name}"
            throughput(f"queue_{key}", label, url, f"/queue/bench-{key}", 1, args.messages)
        if "topic" in scenarios:
            for subs in fanouts:
                throughput(
                    f"topic_{key}_{subs}",
                    f"topic 1->{subs}, {name}",
                    url,
                    f"/topic/bench-{key}",
                    subs,
                    fanout_messages(subs, args),
                )
    for key, name, url, _ in over:
        if "persistent" in scenarios:
            rates = []
            for persistent in (False, True):
                wait_quiet(target.pid)
                rate = receipted(
                    url,
                    f"/queue/durable-{key}",
                    args.persistent_messages,
                    args.inflight,
                    persistent,
                )
                kind = "persistent" if persistent else "not persistent"
                figure = Figure(
                    f"receipted_{key}{'_persistent' if persistent else ''}",
                    f"SEND+RECEIPT, {kind}, {name}",
                    "msg/s",
                    True,
                )
                show(
                    figure, rate, {"messages": args.persistent_messages, "inflight": args.inflight}
                )
                rates.append(rate)
            figure = Figure(
                f"persistent_ratio_{key}", f"persistent / not persistent, {name}", "x", True
            )
            show(figure, rates[1] / rates[0])
    for key, name, url, _ in over:
        if "priority" in scenarios:
            runs: dict[bool, tuple[float, float]] = {}
            for priorities in (False, True):
                wait_quiet(target.pid)
                kind = "priorities 0-9" if priorities else "no priority"
                runs[priorities] = backlog_rates(
                    url,
                    f"/queue/backlog-{key}-{int(priorities)}",
                    args.priority_messages,
                    priorities,
                )
                for index, step in enumerate(("fill", "drain")):
                    figure = Figure(
                        f"backlog_{step}_{key}{'_priority' if priorities else ''}",
                        f"queue {step}, {kind}, {name}",
                        "msg/s",
                        True,
                    )
                    show(figure, runs[priorities][index], {"messages": args.priority_messages})
            for index, step in enumerate(("fill", "drain")):
                figure = Figure(
                    f"priority_ratio_{step}_{key}", f"{step}: priority / plain, {name}", "x", True
                )
                show(figure, runs[True][index] / runs[False][index])
    for key, name, url, _ in over:
        if "latency" in scenarios:
            wait_quiet(target.pid)
            lat = latency(url, args.rate, args.seconds, f"/queue/latency-{key}")
            for label, attr in PERCENTILES:
                figure = Figure(
                    f"latency_{key}_{attr}",
                    f"{label} latency at {args.rate:,} msg/s, {name}",
                    "ms",
                    False,
                )
                show(figure, getattr(lat, attr), {"samples": lat.samples, "max": lat.max})


def ratio(figure: Figure, ours: float, theirs: float) -> float | None:
    """How many times better stompbox is: above 1 is better, whichever way the unit goes."""
    if not ours or not theirs:
        return None
    return ours / theirs if figure.higher_is_better else theirs / ours


def metadata(
    targets: list[Target], args: argparse.Namespace, parser: argparse.ArgumentParser
) -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "websockets": version("websockets"),
        "servers": {target.name: target.server for target in targets},
        "body_bytes": len(BODY),
        "arguments": {k: v for k, v in vars(args).items() if k not in ("json", "load_before")},
        "changed": {  # the run's size where it differs from the defaults
            k: v for k, v in vars(args).items() if k in SIZES and v != parser.get_default(k)
        },
        "load_average": [args.load_before, os.getloadavg()[0]],
    }


def write_json(
    path: str,
    targets: list[Target],
    catalogue: dict[str, Figure],
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
) -> None:
    figures = [
        {
            "key": figure.key,
            "label": figure.label,
            "unit": figure.unit,
            "higher_is_better": figure.higher_is_better,
            "values": {t.name: t.results[key] for t in targets if key in t.results},
            "runs": {t.name: t.runs[key] for t in targets if key in t.runs},
        }
        for key, figure in catalogue.items()
    ]
    document = {"meta": metadata(targets, args, parser), "figures": figures}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(document, indent=2) + "\n")
    print(f"figures written to {path}")


def numbers(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["stompbox", "rabbitmq"])
    parser.add_argument(
        "--scenarios",
        default="queue,topic,latency,memory",
        help="and persistent, priority (not by default)",
    )
    parser.add_argument("--transports", default="tcp,ws", help="tcp, ws or both")
    parser.add_argument("--messages", type=int, default=200_000, help="queue 1->1 messages")
    parser.add_argument("--fanouts", type=numbers, default=[1, 10, 100, 1000], metavar="N,...")
    parser.add_argument("--ws-fanouts", type=numbers, default=[100], metavar="N,...")
    parser.add_argument(
        "--fanout-deliveries",
        type=int,
        default=1_000_000,
        help="deliveries per topic 1->N run (messages = this / N)",
    )
    parser.add_argument(
        "--persistent-messages", type=int, default=50_000, help="persistent: SENDs per run"
    )
    parser.add_argument(
        "--inflight", type=int, default=2_000, help="persistent: SENDs awaiting their receipt"
    )
    parser.add_argument(
        "--priority-messages", type=int, default=50_000, help="priority: messages per queue"
    )
    parser.add_argument("--rate", type=int, default=2_000, help="latency: messages per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="latency run time")
    parser.add_argument("--connections", type=int, default=5_000, help="idle TCP connections")
    parser.add_argument("--ws-connections", type=int, default=2_000)
    parser.add_argument("--stompbox-port", type=int, default=61614)
    parser.add_argument("--stompbox-ws-port", type=int, default=15675)
    parser.add_argument("--rabbitmq-url", default="stomp://guest:guest@127.0.0.1:61623/")
    parser.add_argument("--rabbitmq-ws-url", default="ws://guest:guest@127.0.0.1:15684/ws")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="stompbox authenticates every connection (guest/guest, argon2 users file)",
    )
    parser.add_argument(
        "--retain",
        default="",
        metavar="TOPICS",
        help="stompbox retains these topics for resuming (retain_topics, comma-separated, "
        "e.g. '/topic/*'): topic figures with retention on, against a run without",
    )
    args = parser.parse_args()
    args.load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20_000), hard))

    targets: list[Target] = []
    scratch = tempfile.TemporaryDirectory(prefix="stompbox-bench-")
    store = Path(scratch.name) / "messages.db" if "persistent" in args.scenarios else None
    if args.only in (None, "stompbox"):
        targets.append(
            start_stompbox(
                args.stompbox_port,
                args.stompbox_ws_port,
                Path(scratch.name),
                store,
                args.auth,
                retain=[t for t in args.retain.split(",") if t],
            )
        )
    if args.only in (None, "rabbitmq"):
        if reachable(args.rabbitmq_url, 1.0):
            rabbit = Target("rabbitmq", args.rabbitmq_url, args.rabbitmq_ws_url, rabbitmq_pid())
            rabbit.server = server_header(args.rabbitmq_url)
            targets.append(rabbit)
        else:
            print(f"RabbitMQ does not answer at {args.rabbitmq_url}; run scripts/rabbitmq.sh start")
    catalogue: dict[str, Figure] = {}
    try:
        for target in targets:
            measure(target, args, catalogue)
    finally:
        for target in targets:
            if target.process is not None:
                target.process.send_signal(signal.SIGTERM)
                target.process.wait(15)
        scratch.cleanup()
    if len(targets) == 2:
        ours, theirs = targets
        print("== stompbox compared with rabbitmq (higher is better for stompbox)")
        for key, figure in catalogue.items():
            times = ratio(figure, ours.results.get(key, 0.0), theirs.results.get(key, 0.0))
            if times is not None:
                print(f"  {figure.label:<44}{times:>13.1f}x")
    if args.json:
        write_json(args.json, targets, catalogue, args, parser)


if __name__ == "__main__":
    main()
