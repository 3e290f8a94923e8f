"""Load scenarios against any STOMP broker over TCP: ``stompbox bench``.

The load runs in separate processes that cost the machine little CPU, so that the
broker's figures are the broker's: every frame is built once, and receivers do not parse,
they count NUL bytes (one per frame; bodies here hold none).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import selectors
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from stompbox.net import BrokerURL, parse_url

__all__ = ["FlowResult", "LatencyResult", "add_bench_command", "flow", "latency", "open_idle"]

BODY = b"x" * 128


@dataclass(frozen=True, slots=True)
class FlowResult:
    deliveries: int
    expected: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class LatencyResult:
    samples: int
    p50: float
    p90: float
    p99: float
    max: float
    """Milliseconds."""


def stomp_connect(url: BrokerURL, heartbeat: str = "0,0") -> socket.socket:
    """A raw socket past CONNECTED, with the URL's login, passcode and virtual host."""
    if url.websocket or url.tls:
        raise ValueError("the load scenarios speak plain TCP: use a stomp:// URL")
    sock = socket.create_connection((url.host, url.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lines = [b"CONNECT", b"accept-version:1.2", b"host:" + url.vhost.encode()]
    if url.login is not None:
        lines.append(b"login:" + url.login.encode())
    if url.passcode is not None:
        lines.append(b"passcode:" + url.passcode.encode())
    lines.append(b"heart-beat:" + heartbeat.encode())
    sock.sendall(b"\n".join(lines) + b"\n\n\0")
    reply = _read_frame(sock)
    if not reply.startswith(b"CONNECTED"):
        sock.close()
        raise ConnectionError(f"broker refused CONNECT: {reply.decode(errors='replace')}")
    return sock


def _read_frame(sock: socket.socket) -> bytes:
    data = b""
    while b"\0" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data.lstrip(b"\r\n")


def subscribe(sock: socket.socket, destination: str, sub_id: str = "0") -> None:
    """SUBSCRIBE with a receipt, and wait for it: the subscription is live after this."""
    sock.sendall(
        f"SUBSCRIBE\nid:{sub_id}\ndestination:{destination}\nack:auto\nreceipt:sub\n\n\0".encode()
    )
    reply = _read_frame(sock)
    if not reply.startswith(b"RECEIPT"):
        raise ConnectionError(reply.decode(errors="replace"))


def send_frame(destination: str, body: bytes, receipt: str | None = None) -> bytes:
    extra = f"receipt:{receipt}\n" if receipt else ""
    head = (
        f"SEND\ndestination:{destination}\ncontent-type:text/plain\n{extra}"
        f"content-length:{len(body)}\n\n"
    )
    return head.encode() + body + b"\0"


def _consume(
    url: BrokerURL,
    destination: str,
    count: int,
    expect: int,
    ready: Pipe,
    done: Pipe,
    progress: Synchronized[int],
) -> None:
    socks = [stomp_connect(url) for _ in range(count)]
    for i, sock in enumerate(socks):
        subscribe(sock, destination, str(i))
        sock.setblocking(False)
    ready.send(True)
    selector = selectors.DefaultSelector()
    counts: dict[socket.socket, int] = {}
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
        counts[sock] = 0
    remaining = count
    total = 0
    first = 0.0
    last = time.monotonic()
    idle_deadline = last + 30
    while remaining and time.monotonic() < idle_deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(1 << 18)
            except BlockingIOError:
                continue
            if not data:
                remaining = 0
                break
            last = time.monotonic()
            idle_deadline = last + 30
            if not first:
                first = last
            before = counts[sock]
            got = data.count(b"\0")
            counts[sock] = before + got
            total += got
            progress.value = total
            if before < expect <= counts[sock]:
                remaining -= 1
                selector.unregister(sock)
    done.send((first, last, sum(min(c, expect) for c in counts.values())))
    for sock in socks:
        sock.close()


def _produce(url: BrokerURL, destination: str, total: int, window: int | None, go: Pipe) -> None:
    sock = stomp_connect(url)
    go.recv()
    plain = send_frame(destination, BODY)
    if window is None:
        batch = plain * 256
        sent = 0
        while sent + 256 <= total:
            sock.sendall(batch)
            sent += 256
        sock.sendall(plain * (total - sent))
    else:
        chunk = plain * (window - 1) + send_frame(destination, BODY, "w")
        windows = total // window
        confirmed = 0
        for sent in range(windows):
            sock.sendall(chunk)
            while sent + 1 - confirmed > 2:  # at most two windows unconfirmed
                confirmed += sock.recv(65536).count(b"\0")
        while confirmed < windows:
            confirmed += sock.recv(65536).count(b"\0")
    time.sleep(0.2)
    sock.close()


# -- the same load over WebSocket ---------------------------------------------------------
# The producer packs 16 frames per WebSocket message (STOMP allows any number), so that
# the load process, not the broker, is not what limits the figure.

WS_BATCH = 16


async def _ws_open(url: BrokerURL) -> Any:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    scheme = "wss" if url.tls else "ws"
    ws = await connect(
        f"{scheme}://{url.host}:{url.port}{url.path}",
        subprotocols=[Subprotocol("v12.stomp")],
        max_size=None,
        compression=None,
        ping_interval=None,
    )
    lines = ["CONNECT", "accept-version:1.2", f"host:{url.vhost}", "heart-beat:0,0"]
    if url.login is not None:
        lines.append(f"login:{url.login}")
    if url.passcode is not None:
        lines.append(f"passcode:{url.passcode}")
    await ws.send("\n".join(lines) + "\n\n\0")
    reply = await _ws_frame(ws)
    if not reply.startswith(b"CONNECTED"):
        raise ConnectionError(f"broker refused CONNECT: {reply.decode(errors='replace')}")
    return ws


async def _ws_frame(ws: Any) -> bytes:
    data = b""
    while b"\0" not in data:
        message = await ws.recv()
        data += message.encode() if isinstance(message, str) else message
    return data.lstrip(b"\r\n")


async def _ws_consume_main(
    url: BrokerURL,
    destination: str,
    count: int,
    expect: int,
    ready: Pipe,
    done: Pipe,
    progress: Synchronized[int],
) -> None:
    conns = [await _ws_open(url) for _ in range(count)]
    for i, ws in enumerate(conns):
        await ws.send(f"SUBSCRIBE\nid:{i}\ndestination:{destination}\nack:auto\nreceipt:sub\n\n\0")
        if not (await _ws_frame(ws)).startswith(b"RECEIPT"):
            raise ConnectionError("SUBSCRIBE was refused")
    ready.send(True)
    stamps = [0.0, 0.0]
    counts = [0] * count

    async def read(i: int, ws: Any) -> None:
        while counts[i] < expect:
            message = await ws.recv()
            stamps[1] = time.monotonic()
            if not stamps[0]:
                stamps[0] = stamps[1]
            got = message.count("\0") if isinstance(message, str) else message.count(b"\0")
            counts[i] += got
            progress.value += got

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(read(i, ws) for i, ws in enumerate(conns))), 120)
    done.send((stamps[0], stamps[1], sum(min(c, expect) for c in counts)))
    for ws in conns:
        await ws.close()


def _ws_consume(*args: Any) -> None:
    asyncio.run(_ws_consume_main(*args))


async def _ws_produce_main(
    url: BrokerURL, destination: str, total: int, window: int | None, go: Pipe
) -> None:
    ws = await _ws_open(url)
    go.recv()
    plain = send_frame(destination, BODY).decode()
    if window is None:
        batch = plain * WS_BATCH
        for _ in range(total // WS_BATCH):
            await ws.send(batch)
        for _ in range(total % WS_BATCH):
            await ws.send(plain)
    else:
        receipted = send_frame(destination, BODY, "w").decode()
        body = plain * (window - 1)
        confirmed = 0
        windows = total // window
        for sent in range(windows):
            await ws.send(body + receipted)
            while sent + 1 - confirmed > 2:
                confirmed += (await _ws_frame(ws)).count(b"RECEIPT")
        while confirmed < windows:
            confirmed += (await _ws_frame(ws)).count(b"RECEIPT")
    await asyncio.sleep(0.2)
    await ws.close()


def _ws_produce(*args: Any) -> None:
    asyncio.run(_ws_produce_main(*args))


def flow(
    url: str | BrokerURL,
    destination: str,
    subscribers: int,
    messages: int,
    *,
    window: int | None = None,
    show_progress: bool = True,
) -> FlowResult:
    """One producer sends ``messages`` to ``destination``; ``subscribers`` connections
    count what they receive. ``window``: a receipt every ``window`` SENDs, at most two
    windows unconfirmed (fan-out must not outrun the subscribers)."""
    broker = parse_url(url) if isinstance(url, str) else url
    if window is not None:
        messages -= messages % window
    ctx = mp.get_context("fork")
    progress = ctx.Value("q", 0, lock=False)
    ready_recv, ready_send = ctx.Pipe(False)
    done_recv, done_send = ctx.Pipe(False)
    go_recv, go_send = ctx.Pipe(False)
    consume, produce = (_ws_consume, _ws_produce) if broker.websocket else (_consume, _produce)
    consumer = ctx.Process(
        target=consume,
        args=(broker, destination, subscribers, messages, ready_send, done_send, progress),
    )
    consumer.start()
    if not ready_recv.poll(60):
        consumer.kill()
        raise ConnectionError("subscribers did not get ready within 60 s")
    ready_recv.recv()
    producer = ctx.Process(target=produce, args=(broker, destination, messages, window, go_recv))
    producer.start()
    go_send.send(True)
    expected = subscribers * messages
    bar = ProgressBar(expected, enabled=show_progress and sys.stderr.isatty())
    while not done_recv.poll(0.1):
        bar.update(int(progress.value))
        if not consumer.is_alive() and not done_recv.poll(0):
            raise ConnectionError("the subscriber process died")
    first, last, delivered = done_recv.recv()
    bar.close()
    producer.join(30)
    consumer.join(30)
    return FlowResult(delivered, expected, max(last - first, 1e-9))


def _receive_stamps(sock: socket.socket, total: int, out: Pipe) -> None:
    buf = b""
    got: list[float] = []
    while len(got) < total:
        data = sock.recv(65536)
        if not data:
            break
        now = time.monotonic()
        buf += data
        while (end := buf.find(b"\0")) >= 0:
            frame, buf = buf[:end], buf[end + 1 :]
            stamp = frame.rsplit(b"\n\n", 1)[-1]
            if stamp:
                got.append(now - float(stamp))
    out.send(got)


def latency(
    url: str | BrokerURL,
    rate: int = 2000,
    seconds: float = 5.0,
    destination: str = "/queue/latency",
) -> LatencyResult:
    """Sender-to-receiver time of queue messages sent at ``rate`` per second."""
    broker = parse_url(url) if isinstance(url, str) else url
    receiver = stomp_connect(broker)
    subscribe(receiver, destination)
    sender = stomp_connect(broker)
    total = int(rate * seconds)
    ctx = mp.get_context("fork")
    results_recv, results_send = ctx.Pipe(False)
    process = ctx.Process(target=_receive_stamps, args=(receiver, total, results_send))
    process.start()
    interval = 1.0 / rate
    next_at = time.monotonic()
    bar = ProgressBar(total, enabled=sys.stderr.isatty())
    for i in range(total):
        next_at += interval
        while (now := time.monotonic()) < next_at:
            pass
        sender.sendall(send_frame(destination, repr(now).encode()))
        if i % 200 == 0:
            bar.update(i)
    bar.close()
    samples: list[float] = results_recv.recv() if results_recv.poll(30) else []
    process.join(10)
    sender.close()
    receiver.close()
    if len(samples) < 10:
        raise ConnectionError(f"only {len(samples)} of {total} latency samples came back")
    samples.sort()
    samples = samples[len(samples) // 10 :]  # the first tenth warms up
    cuts = statistics.quantiles(samples, n=100)
    return LatencyResult(
        len(samples), cuts[49] * 1e3, cuts[89] * 1e3, cuts[98] * 1e3, samples[-1] * 1e3
    )


def open_idle(url: str | BrokerURL, count: int) -> list[socket.socket]:
    """``count`` connected, silent STOMP connections (close them when done)."""
    broker = parse_url(url) if isinstance(url, str) else url
    return [stomp_connect(broker) for _ in range(count)]


class ProgressBar:
    """A one-line progress bar on stderr, shown only once a run passes one second."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = max(total, 1)
        self.enabled = enabled
        self.start = time.monotonic()
        self.shown = False
        self.last_draw = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.start < 1.0 or now - self.last_draw < 0.1:
            return
        self.last_draw = now
        self.shown = True
        fraction = min(done / self.total, 1.0)
        filled = int(fraction * 30)
        sys.stderr.write(
            f"\r  [{'#' * filled}{'.' * (30 - filled)}] {fraction:6.1%} {now - self.start:5.1f} s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def _bench(args: argparse.Namespace) -> int:
    try:
        url = parse_url(args.url)
        if url.scheme == "stomps":
            raise ValueError("bench speaks plain TCP or WebSocket: use stomp://, ws:// or wss://")
    except ValueError as exc:
        print(f"stompbox bench: {exc}", file=sys.stderr)
        return 2
    try:
        if url.websocket:
            asyncio.run(_ws_check(url))
        else:
            stomp_connect(url).close()
    except (OSError, Exception) as exc:
        print(f"stompbox bench: cannot use {url.host}:{url.port}: {exc}", file=sys.stderr)
        return 1
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - {"queue", "topic", "latency"}
    if unknown:
        print(f"stompbox bench: unknown scenario(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
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
        if "latency" in scenarios and url.websocket:
            print("  latency: measured over TCP only (use a stomp:// URL)")
        elif "latency" in scenarios:
            lat = latency(url, args.rate, args.seconds)
            print(
                f"  {f'latency at {args.rate:,} msg/s':<26}p50 {lat.p50:.2f} ms  "
                f"p90 {lat.p90:.2f} ms  p99 {lat.p99:.2f} ms  max {lat.max:.2f} ms "
                f"({lat.samples} samples)"
            )
    except OSError as exc:
        print(f"stompbox bench: {exc}", file=sys.stderr)
        return 1
    return 0


async def _ws_check(url: BrokerURL) -> None:
    ws = await _ws_open(url)
    await ws.close()


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
            "latency at a fixed rate (TCP)."
        ),
    )
    bench.add_argument("--url", default="stomp://guest:guest@localhost:61613/")
    bench.add_argument("--scenarios", default="queue,topic,latency")
    bench.add_argument("--messages", type=int, default=100_000, help="queue 1->1 messages")
    bench.add_argument("--fanout-messages", type=int, default=10_000)
    bench.add_argument("--subscribers", type=int, default=100)
    bench.add_argument("--rate", type=int, default=2_000, help="latency: messages per second")
    bench.add_argument("--seconds", type=float, default=5.0, help="latency: run time")
    bench.set_defaults(func=_bench)
