"""End-to-end broker figures: deliveries/s, latency, memory per idle connection.

Runs the same scenarios against stompbox (started here as ``stompbox serve``) and, when
it answers on its port, RabbitMQ's STOMP plugin (``scripts/rabbitmq.sh start``), and
prints the ratios. The load runs in separate processes that cost little CPU: frames are
built once, and receivers only count NUL bytes.

    python benchmarks/broker.py                    # both brokers, all scenarios
    python benchmarks/broker.py --only stompbox --scenarios queue,topic
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe

BODY = b"x" * 128


@dataclass
class Target:
    name: str
    port: int
    pid: int | None = None
    process: subprocess.Popen[bytes] | None = None
    results: dict[str, float] = field(default_factory=dict)


# -- wire helpers (pre-built bytes, no parsing on the hot path) --------------------------


def connect(port: int, heartbeat: str = "0,0") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(
        b"CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:"
        + heartbeat.encode()
        + b"\n\n\0"
    )
    data = b""
    while b"\0" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("broker closed the connection during CONNECT")
        data += chunk
    if not data.startswith(b"CONNECTED"):
        raise ConnectionError(data.decode(errors="replace"))
    return sock


def subscribe(sock: socket.socket, destination: str, sub_id: str = "0") -> None:
    sock.sendall(
        f"SUBSCRIBE\nid:{sub_id}\ndestination:{destination}\nack:auto\nreceipt:sub\n\n\0".encode()
    )
    data = b""
    while b"\0" not in data:
        data += sock.recv(4096)
    if not data.startswith(b"RECEIPT"):
        raise ConnectionError(data.decode(errors="replace"))


def send_frame(destination: str, body: bytes, receipt: str | None = None) -> bytes:
    extra = f"receipt:{receipt}\n" if receipt else ""
    return (
        (
            f"SEND\ndestination:{destination}\ncontent-type:text/plain\n{extra}"
            f"content-length:{len(body)}\n\n"
        ).encode()
        + body
        + b"\0"
    )


# -- load processes ----------------------------------------------------------------------


def consumers(
    port: int, destination: str, count: int, expect: int, ready: Pipe, done: Pipe
) -> None:
    """Subscribe ``count`` connections, then count MESSAGE frames until each has ``expect``."""
    socks = [connect(port) for _ in range(count)]
    for i, sock in enumerate(socks):
        subscribe(sock, destination, str(i))
        sock.setblocking(False)
    ready.send(True)
    selector = selectors.DefaultSelector()
    counts = {}
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
        counts[sock] = 0
    remaining = count
    first = 0.0
    deadline = time.monotonic() + 120
    while remaining and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(1 << 18)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError("broker closed a consumer")
            if not first:
                first = time.monotonic()
            before = counts[sock]
            counts[sock] = before + data.count(b"\0")
            if before < expect <= counts[sock]:
                remaining -= 1
                selector.unregister(sock)
    done.send((first, time.monotonic(), sum(min(c, expect) for c in counts.values())))
    for sock in socks:
        sock.close()


def producer(port: int, destination: str, total: int, window: int | None, start: Pipe) -> None:
    """Send ``total`` pre-built SENDs; with ``window``, a receipt every ``window`` frames
    and at most two windows unconfirmed (so fan-out cannot outrun the subscribers)."""
    sock = connect(port)
    start.recv()
    plain = send_frame(destination, BODY)
    if window is None:
        batch = plain * 256
        sent = 0
        while sent + 256 <= total:
            sock.sendall(batch)
            sent += 256
        sock.sendall(plain * (total - sent))
    else:
        receipted = send_frame(destination, BODY, "w")
        chunk = plain * (window - 1) + receipted
        confirmed = 0
        windows = total // window
        for sent in range(windows):
            sock.sendall(chunk)
            while sent + 1 - confirmed > 2:
                confirmed += sock.recv(65536).count(b"\0")
        while confirmed < windows:
            confirmed += sock.recv(65536).count(b"\0")
    time.sleep(0.5)
    sock.close()


def run_flow(
    port: int, destination: str, subscribers: int, total: int, window: int | None
) -> float:
    ready_recv, ready_send = mp.Pipe(False)
    done_recv, done_send = mp.Pipe(False)
    start_recv, start_send = mp.Pipe(False)
    consumer = mp.Process(
        target=consumers, args=(port, destination, subscribers, total, ready_send, done_send)
    )
    consumer.start()
    ready_recv.recv()
    sender = mp.Process(target=producer, args=(port, destination, total, window, start_recv))
    sender.start()
    start_send.send(True)
    first, last, delivered = done_recv.recv()
    sender.join(30)
    consumer.join(30)
    if delivered < subscribers * total:
        print(f"    note: {subscribers * total - delivered} deliveries missing", file=sys.stderr)
    return float(delivered / (last - first))


def latency(port: int, rate: int = 2000, seconds: float = 5.0) -> tuple[float, float]:
    """p50 and p99 in ms for a queue message at ``rate`` msg/s, sender to receiver."""
    receiver = connect(port)
    subscribe(receiver, "/queue/latency")
    sender = connect(port)
    results: list[float] = []
    total = int(rate * seconds)
    recv_parent, recv_child = mp.Pipe(False)

    def receive() -> None:
        buf = b""
        got: list[float] = []
        while len(got) < total:
            data = receiver.recv(65536)
            now = time.monotonic()
            buf += data
            while True:
                end = buf.find(b"\0")
                if end < 0:
                    break
                frame, buf = buf[:end], buf[end + 1 :]
                stamp = frame.rsplit(b"\n\n", 1)[1]
                if stamp:
                    got.append(now - float(stamp))
        recv_child.send(got)

    process = mp.Process(target=receive)
    process.start()
    interval = 1.0 / rate
    next_at = time.monotonic()
    for _ in range(total):
        next_at += interval
        while (now := time.monotonic()) < next_at:
            pass
        sender.sendall(send_frame("/queue/latency", repr(now).encode()))
    results = recv_parent.recv()
    process.join(10)
    results.sort()
    results = results[len(results) // 10 :]  # drop the warm-up tenth
    cuts = statistics.quantiles(results, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def idle_memory(target: Target, count: int) -> float:
    """Resident KiB per idle connected STOMP connection, from the broker's RSS."""
    assert target.pid is not None
    before = rss_kib(target.pid)
    socks = [connect(target.port) for _ in range(count)]
    time.sleep(2.0)
    after = rss_kib(target.pid)
    for sock in socks:
        sock.close()
    return (after - before) / count


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# -- targets -----------------------------------------------------------------------------


def start_stompbox(port: int) -> Target:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stompbox.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    )
    wait_for_port(port)
    return Target("stompbox", port, process.pid, process)


def rabbitmq_pid() -> int | None:
    out = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    return max(pids, key=rss_kib) if pids else None


def wait_for_port(port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", choices=["stompbox", "rabbitmq"])
    parser.add_argument("--scenarios", default="queue,topic,latency,memory")
    parser.add_argument("--messages", type=int, default=200_000, help="queue 1->1 messages")
    parser.add_argument("--fanout-messages", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--connections", type=int, default=5_000)
    parser.add_argument("--stompbox-port", type=int, default=61614)
    parser.add_argument("--rabbitmq-port", type=int, default=61613)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20_000), hard))
    scenarios = args.scenarios.split(",")

    targets: list[Target] = []
    if args.only in (None, "stompbox"):
        targets.append(start_stompbox(args.stompbox_port))
    if args.only in (None, "rabbitmq"):
        if wait_for_port(args.rabbitmq_port, 1.0):
            targets.append(Target("rabbitmq", args.rabbitmq_port, rabbitmq_pid()))
        else:
            print(
                f"RabbitMQ is not answering on port {args.rabbitmq_port}; "
                "run scripts/rabbitmq.sh start to compare with it.\n"
            )
    measures: list[tuple[str, str, Callable[[Target], float], bool]] = [
        (
            "queue",
            "queue 1->1 deliveries/s",
            lambda t: run_flow(t.port, "/queue/bench", 1, args.messages, None),
            True,
        ),
        (
            "topic",
            f"topic 1->{args.subscribers} deliveries/s",
            lambda t: run_flow(t.port, "/topic/bench", args.subscribers, args.fanout_messages, 200),
            True,
        ),
    ]
    try:
        for target in targets:
            print(f"== {target.name} (port {target.port})", flush=True)
            for key, label, measure, _ in measures:
                if key in scenarios:
                    target.results[label] = value = measure(target)
                    print(f"  {label:<40}{value:>14,.0f}", flush=True)
            if "latency" in scenarios:
                p50, p99 = latency(target.port)
                target.results["p50 latency ms @2000/s"] = p50
                target.results["p99 latency ms @2000/s"] = p99
                print(f"  {'p50 / p99 latency @ 2,000 msg/s':<40}{p50:>8.2f} / {p99:.2f} ms")
            if "memory" in scenarios and target.pid is not None:
                kib = idle_memory(target, args.connections)
                target.results["KiB per idle connection"] = kib
                print(f"  {f'KiB per idle connection ({args.connections})':<40}{kib:>14.1f}")
    finally:
        for target in targets:
            if target.process is not None:
                target.process.send_signal(signal.SIGTERM)
                target.process.wait(15)
    if len(targets) == 2:
        ours, theirs = targets
        print("== stompbox / rabbitmq")
        for label, value in ours.results.items():
            other = theirs.results.get(label)
            if other:
                better = value / other if "deliveries" in label else other / value
                print(f"  {label:<40}{better:>10.1f}x better")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
