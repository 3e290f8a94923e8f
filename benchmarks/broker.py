"""End-to-end broker figures beside RabbitMQ: deliveries/s, latency, memory per connection.

Starts stompbox (``stompbox serve``) and, when it answers, measures RabbitMQ's STOMP and
Web-STOMP plugins too (``scripts/rabbitmq.sh start``), then prints the ratios. Queue and
topic figures are taken over TCP and over WebSocket. The load scenarios are
those of ``stompbox bench`` (separate processes, pre-built frames, receivers count NULs).

    python benchmarks/broker.py
    python benchmarks/broker.py --only stompbox --scenarios queue,topic
"""

from __future__ import annotations

import argparse
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from stompbox.cli.links import stomp_connect
from stompbox.cli.load import flow, latency, open_idle
from stompbox.net import parse_url


@dataclass
class Target:
    name: str
    url: str
    ws_url: str | None
    pid: int | None
    process: subprocess.Popen[bytes] | None = None
    results: dict[str, float] = field(default_factory=dict)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


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


def start_stompbox(port: int, ws_port: int) -> Target:
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
        ]
    )
    url = f"stomp://guest:guest@127.0.0.1:{port}/"
    if not reachable(url, 15):
        process.kill()
        raise SystemExit("stompbox did not start")
    return Target("stompbox", url, f"ws://127.0.0.1:{ws_port}/ws", process.pid, process)


def rabbitmq_pid() -> int | None:
    out = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    return max(pids, key=rss_kib) if pids else None


def idle_memory(target: Target, count: int) -> float:
    """Resident KiB per idle connected STOMP connection, from the broker's RSS."""
    assert target.pid is not None
    before = rss_kib(target.pid)
    socks = open_idle(target.url, count)
    time.sleep(2.0)
    after = rss_kib(target.pid)
    for sock in socks:
        sock.close()
    return (after - before) / count


def measure(target: Target, args: argparse.Namespace) -> None:
    scenarios = args.scenarios.split(",")
    print(f"== {target.name} ({target.url})", flush=True)

    def show(label: str, value: float, unit: str = "") -> None:
        target.results[label] = value
        print(f"  {label:<44}{value:>14,.2f}{unit}", flush=True)

    tcp = "tcp" in args.transports.split(",")
    if tcp and "queue" in scenarios:
        result = flow(target.url, "/queue/bench", 1, args.messages)
        show("queue 1->1 deliveries/s", result.rate)
    if tcp and "topic" in scenarios:
        result = flow(
            target.url, "/topic/bench", args.subscribers, args.fanout_messages, window=200
        )
        show(f"topic 1->{args.subscribers} deliveries/s", result.rate)
    if target.ws_url is not None and "ws" in args.transports.split(","):
        if "queue" in scenarios:
            result = flow(target.ws_url, "/queue/bench-ws", 1, args.messages)
            show("WebSocket queue 1->1 deliveries/s", result.rate)
        if "topic" in scenarios:
            result = flow(
                target.ws_url, "/topic/bench-ws", args.subscribers, args.fanout_messages, window=200
            )
            show(f"WebSocket topic 1->{args.subscribers} deliveries/s", result.rate)
    if "latency" in scenarios:
        lat = latency(target.url, 2000, args.seconds)
        show("p50 latency at 2,000 msg/s (ms)", lat.p50)
        show("p99 latency at 2,000 msg/s (ms)", lat.p99)
    if "memory" in scenarios and target.pid is not None:
        show(f"KiB per idle connection ({args.connections})", idle_memory(target, args.connections))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["stompbox", "rabbitmq"])
    parser.add_argument("--scenarios", default="queue,topic,latency,memory")
    parser.add_argument("--messages", type=int, default=200_000, help="queue 1->1 messages")
    parser.add_argument("--fanout-messages", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0, help="latency run time")
    parser.add_argument("--connections", type=int, default=5_000)
    parser.add_argument("--transports", default="tcp,ws", help="tcp, ws or both")
    parser.add_argument("--stompbox-port", type=int, default=61614)
    parser.add_argument("--stompbox-ws-port", type=int, default=15675)
    parser.add_argument("--rabbitmq-url", default="stomp://guest:guest@127.0.0.1:61623/")
    parser.add_argument("--rabbitmq-ws-url", default="ws://guest:guest@127.0.0.1:15684/ws")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20_000), hard))

    targets: list[Target] = []
    if args.only in (None, "stompbox"):
        targets.append(start_stompbox(args.stompbox_port, args.stompbox_ws_port))
    if args.only in (None, "rabbitmq"):
        if reachable(args.rabbitmq_url, 1.0):
            targets.append(
                Target("rabbitmq", args.rabbitmq_url, args.rabbitmq_ws_url, rabbitmq_pid())
            )
        else:
            print(f"RabbitMQ does not answer at {args.rabbitmq_url}; run scripts/rabbitmq.sh start")
    try:
        for target in targets:
            measure(target, args)
    finally:
        for target in targets:
            if target.process is not None:
                target.process.send_signal(signal.SIGTERM)
                target.process.wait(15)
    if len(targets) == 2:
        ours, theirs = targets
        print("== stompbox compared with rabbitmq (higher is better for stompbox)")
        for label, value in ours.results.items():
            other = theirs.results.get(label)
            if other:
                ratio = value / other if "deliveries" in label else other / value
                print(f"  {label:<44}{ratio:>13.1f}x")


if __name__ == "__main__":
    main()
