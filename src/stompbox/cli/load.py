"""Load scenarios against any STOMP broker, over TCP or WebSocket: what ``stompbox bench``
and ``benchmarks/broker.py`` measure.

The load runs in separate processes that cost the machine little CPU, so that the
broker's figures are the broker's: every frame is built once, the producer packs many
frames into each write, and receivers do not parse STOMP, they count NUL bytes (one per
frame; bodies here hold none). Both transports run the same producer and consumer; only
the :class:`~stompbox.cli.links.Link` differs.
"""

from __future__ import annotations

import multiprocessing as mp
import selectors
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.sharedctypes import Synchronized

from stompbox.net import BrokerURL, parse_url

from .links import Link, stomp_connect, subscribe

__all__ = [
    "BODY",
    "FlowResult",
    "LatencyResult",
    "ProgressBar",
    "flow",
    "latency",
    "open_idle",
    "send_frame",
]

BODY = b"x" * 128
IDLE_TIMEOUT = 30.0
"""Seconds without a delivery after which a consumer gives up and reports what it has."""


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
    """Sender-to-receiver times in milliseconds."""

    samples: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float


def send_frame(destination: str, body: bytes, receipt: str | None = None) -> bytes:
    extra = f"receipt:{receipt}\n" if receipt else ""
    head = (
        f"SEND\ndestination:{destination}\ncontent-type:text/plain\n{extra}"
        f"content-length:{len(body)}\n\n"
    )
    return head.encode() + body + b"\0"


def _consume(
    urls: Sequence[BrokerURL],
    destination: str,
    count: int,
    expect: int,
    ready: Pipe,
    done: Pipe,
    progress: Synchronized[int],
) -> None:
    """``count`` subscribers (connected to ``urls`` in turn), one selector: count NULs
    until each has ``expect`` frames."""
    links = [stomp_connect(urls[i % len(urls)]) for i in range(count)]
    for i, link in enumerate(links):
        subscribe(link, destination, str(i))
    ready.send(True)
    selector = selectors.DefaultSelector()
    for i, link in enumerate(links):
        selector.register(link, selectors.EVENT_READ, i)
    counts = [0] * count
    remaining = count
    total = 0
    first = 0.0
    last = time.monotonic()
    idle_deadline = last + IDLE_TIMEOUT
    while remaining and time.monotonic() < idle_deadline:
        for key, _ in selector.select(timeout=0.5):
            i = key.data
            data = links[i].recv()
            if not data:
                remaining = 0
                break
            last = time.monotonic()
            idle_deadline = last + IDLE_TIMEOUT
            if not first:
                first = last
            before = counts[i]
            got = data.count(b"\0")
            counts[i] = before + got
            total += got
            progress.value = total
            if before < expect <= counts[i]:
                remaining -= 1
                selector.unregister(links[i])
    done.send((first, last, sum(min(c, expect) for c in counts)))
    for link in links:
        link.close()


def _produce(
    url: BrokerURL, destination: str, total: int, window: int | None, confirm: bool, go: Pipe
) -> None:
    """Send ``total`` SENDs, ``link.frames_per_send`` to a write; with ``window``, a receipt
    closes every ``window`` SENDs and at most two windows go unconfirmed. With ``confirm``,
    the link is first confirmed by a receipt (see :func:`flow`)."""
    link = stomp_connect(url)
    if confirm:
        _confirm(link)
    go.recv()
    plain = send_frame(destination, BODY)
    if window is None:
        per_send = link.frames_per_send
        batch = plain * per_send
        for _ in range(total // per_send):
            link.send(batch)
        if total % per_send:
            link.send(plain * (total % per_send))
    else:
        chunk = plain * (window - 1) + send_frame(destination, BODY, "w")
        windows = total // window
        confirmed = 0
        for sent in range(windows):
            link.send(chunk)
            while sent + 1 - confirmed > 2:
                confirmed += _receipts(link)
        while confirmed < windows:
            confirmed += _receipts(link)
    time.sleep(0.2)
    link.close()


def _confirm(link: Link) -> None:
    """SUBSCRIBE to a topic of its own with a receipt, wait for it, UNSUBSCRIBE."""
    topic = f"/topic/stompbox-load-{uuid.uuid4().hex}"
    subscribe(link, topic, "confirm")
    link.send(b"UNSUBSCRIBE\nid:confirm\n\n\0")


def _receipts(link: Link) -> int:
    data = link.recv()
    if not data:
        raise ConnectionError("broker closed the producer's connection")
    return data.count(b"\0")


def flow(
    url: str | BrokerURL | Sequence[str | BrokerURL],
    destination: str,
    subscribers: int,
    messages: int,
    *,
    window: int | None = None,
    show_progress: bool = True,
    producer_url: str | BrokerURL | None = None,
    confirm: bool = False,
) -> FlowResult:
    """One producer sends ``messages`` to ``destination``; ``subscribers`` connections
    count what they receive. ``window``: a receipt every ``window`` SENDs, at most two
    windows unconfirmed (fan-out must not outrun the subscribers).

    ``url`` may be several brokers (instances sharing one broker behind them): the
    subscribers connect to each in turn, and the producer to ``producer_url`` (by default
    the first). ``confirm``: the producer waits for a receipt before it starts, for a
    server that answers CONNECTED before it can take SENDs at full speed (a relay still
    connecting to its broker)."""
    urls = [url] if isinstance(url, (str, BrokerURL)) else list(url)
    brokers = [parse_url(u) if isinstance(u, str) else u for u in urls]
    if producer_url is None:
        producer = brokers[0]
    else:
        producer = parse_url(producer_url) if isinstance(producer_url, str) else producer_url
    if window is not None:
        messages -= messages % window
    ctx = mp.get_context("fork")
    progress = ctx.Value("q", 0, lock=False)
    ready_recv, ready_send = ctx.Pipe(False)
    done_recv, done_send = ctx.Pipe(False)
    go_recv, go_send = ctx.Pipe(False)
    consumer = ctx.Process(
        target=_consume,
        args=(brokers, destination, subscribers, messages, ready_send, done_send, progress),
    )
    consumer.start()
    if not ready_recv.poll(60):
        consumer.kill()
        raise ConnectionError("subscribers did not get ready within 60 s")
    ready_recv.recv()
    process = ctx.Process(
        target=_produce, args=(producer, destination, messages, window, confirm, go_recv)
    )
    process.start()
    go_send.send(True)
    expected = subscribers * messages
    bar = ProgressBar(expected, enabled=show_progress and sys.stderr.isatty())
    while not done_recv.poll(0.1):
        bar.update(int(progress.value))
        if not consumer.is_alive() and not done_recv.poll(0):
            raise ConnectionError("the subscriber process died")
    first, last, delivered = done_recv.recv()
    bar.close()
    process.join(30)
    consumer.join(30)
    return FlowResult(delivered, expected, max(last - first, 1e-9))


def _receive_stamps(link: Link, total: int, out: Pipe) -> None:
    buf = b""
    got: list[float] = []
    while len(got) < total:
        data = link.recv()
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
    """Sender-to-receiver time of queue messages sent at ``rate`` per second, one per
    write; the first tenth of the run warms up and is left out."""
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
        sender.send(send_frame(destination, repr(now).encode()))
        if i % 200 == 0:
            bar.update(i)
    bar.close()
    samples: list[float] = results_recv.recv() if results_recv.poll(30) else []
    process.join(10)
    sender.close()
    receiver.close()
    if len(samples) < 10:
        raise ConnectionError(f"only {len(samples)} of {total} latency samples came back")
    samples = sorted(samples[len(samples) // 10 :])
    cuts = statistics.quantiles(samples, n=1000)
    return LatencyResult(
        len(samples),
        cuts[499] * 1e3,
        cuts[899] * 1e3,
        cuts[989] * 1e3,
        cuts[998] * 1e3,
        samples[-1] * 1e3,
    )


def open_idle(url: str | BrokerURL, count: int) -> list[Link]:
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
