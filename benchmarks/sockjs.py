"""STOMP deliveries per second over SockJS xhr-streaming beside plain WebSocket (issue 13).

Starts ``stompbox serve`` on free ports (SockJS under the WebSocket path) and measures,
each with a producer process and a receiving process:

- queue 1->1 over WebSocket (``stompbox bench``'s load, ``stompbox.cli.load.flow``) and
  over SockJS xhr-streaming;
- topic 1->N (``--subscribers``, 100) over both, a receipt closing every 200 SENDs and at
  most two windows unconfirmed, so that the producer cannot outrun the fan-out.

The SockJS side is ``benchmarks/sockjs_client.py``: each session receives on one
xhr_streaming connection and sends with xhr_send POSTs on another, every message queued
while a POST is in flight going in the next one (as sockjs-client does); the producer
queues up to ``--frames-per-post`` STOMP frames, one SockJS message each, before it waits.
Receivers JSON-decode every ``a`` frame and count the STOMP MESSAGE frames in it.

Each figure also shows the share of a core the broker used (its CPU time over the time
from first to last delivery; setup counts too, so slightly high) and, over SockJS, the
producer's and the receivers': the figure is the broker's only while the load processes
stay well under a core each, and the machine has no one else's work (``uptime``).

    python benchmarks/sockjs.py
    python benchmarks/sockjs.py --messages 20000 --fanout-deliveries 200000
    python benchmarks/sockjs.py --client httpx --scenarios queue --transports sockjs
    python benchmarks/sockjs.py --json build/bench/sockjs.json
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import signal
import sys
import tempfile
import time
import urllib.request
from multiprocessing.connection import Connection as Pipe
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too

from benchmarks import broker
from benchmarks.broker import Figure, Target, cpu_seconds, free_port, wait_quiet, write_json
from benchmarks.sockjs_client import SockJSError, SockJSSession, session_class
from stompbox.cli.load import BODY, IDLE_TIMEOUT, FlowResult, ProgressBar, flow, send_frame

WINDOW = 200
"""SENDs per receipt in the topic runs, as ``benchmarks/broker.py`` has it."""


def start_stompbox_with_sockjs(scratch: Path) -> Target:
    """``stompbox serve`` on free ports (SockJS is on by default), as broker.py starts it."""
    target = broker.start_stompbox(free_port(), free_port(), scratch)
    assert target.ws_url is not None
    info = target.ws_url.replace("ws://", "http://", 1) + "/info"
    try:
        with urllib.request.urlopen(info, timeout=5) as response:
            target.server = f"stompbox, SockJS {response.read().decode()}"
    except OSError as exc:
        if target.process is not None:
            target.process.send_signal(signal.SIGTERM)
        raise SystemExit(f"GET {info}: {exc}") from None
    return target


def sockjs_url(target: Target) -> str:
    assert target.ws_url is not None
    return target.ws_url.replace("ws://", "http://", 1)


async def stomp_connect(session: SockJSSession) -> None:
    await session.connect()
    session.send("CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n\n\0")
    reply = await session.read_frame()
    if not reply.startswith("CONNECTED"):
        raise SockJSError(f"{session.path}: CONNECT answered {reply!r}")


async def stomp_subscribe(session: SockJSSession, destination: str, sub_id: str) -> None:
    session.send(f"SUBSCRIBE\nid:{sub_id}\ndestination:{destination}\nack:auto\nreceipt:s\n\n\0")
    reply = await session.read_frame()
    if not reply.startswith("RECEIPT"):
        raise SockJSError(f"{session.path}: SUBSCRIBE answered {reply!r}")


async def _receive(
    url: str,
    client: str,
    destination: str,
    count: int,
    expect: int,
    ready: Pipe,
    progress: Synchronized[int],
) -> tuple[float, float, int, float, list[str]]:
    """``count`` subscribed sessions, counting MESSAGE frames until each has ``expect``:
    the first and last delivery's times, the deliveries, the share of a core this process
    used in between, and what went wrong."""
    cls = session_class(client)
    sessions: list[SockJSSession] = [cls(url) for _ in range(count)]

    async def setup(i: int, session: SockJSSession) -> None:
        await stomp_connect(session)
        await stomp_subscribe(session, destination, str(i))

    for start in range(0, count, 20):  # 20 at a time, not 200 connections in one burst
        await asyncio.gather(
            *(setup(i, s) for i, s in enumerate(sessions) if start <= i < start + 20)
        )
    counts = [0] * count
    remaining = count
    total = 0
    first = 0.0
    last = time.monotonic()
    cpu_first = cpu_last = 0.0
    finished = asyncio.Event()

    def install_counter(i: int) -> None:
        def count_messages(messages: list[str]) -> None:
            nonlocal remaining, total, first, last, cpu_first, cpu_last
            got = 0
            for message in messages:
                got += message.count("MESSAGE\n")
            last = time.monotonic()
            cpu_last = time.process_time()
            if not first:
                first, cpu_first = last, cpu_last
            before = counts[i]
            counts[i] = before + got
            total += got
            if before < expect <= counts[i]:
                remaining -= 1
                if not remaining:
                    finished.set()

        sessions[i].on_messages = count_messages

    for i in range(count):
        install_counter(i)
    ready.send(True)
    problems: list[str] = []
    while remaining and time.monotonic() < last + IDLE_TIMEOUT:
        try:
            await asyncio.wait_for(finished.wait(), 0.5)
        except TimeoutError:
            progress.value = total
        problems = [f"{s.path}: {s.error or s.closed}" for s in sessions if s.closed is not None]
        if problems:
            break
    for session in sessions:
        await session.close()
    cpu = (cpu_last - cpu_first) / (last - first) if last > first else 0.0
    return first, last, sum(min(c, expect) for c in counts), cpu, problems


def _consume(
    url: str,
    client: str,
    destination: str,
    count: int,
    expect: int,
    ready: Pipe,
    done: Pipe,
    progress: Synchronized[int],
) -> None:
    try:
        done.send(asyncio.run(_receive(url, client, destination, count, expect, ready, progress)))
    except Exception as exc:
        done.send((0.0, 0.0, 0, 0.0, [f"receiver: {exc!r}"]))
        raise


async def _send(
    url: str, client: str, destination: str, total: int, window: int | None, batch: int, go: Pipe
) -> tuple[int, float]:
    """Send ``total`` SENDs, at most ``batch`` queued at once; with ``window``, a receipt
    closes every ``window`` SENDs and at most two windows go unconfirmed. Answers the
    POSTs made and the share of a core this process used while sending."""
    session: SockJSSession = session_class(client)(url)
    await stomp_connect(session)
    receipts = 0
    receipted = asyncio.Event()

    def count_receipts(messages: list[str]) -> None:
        nonlocal receipts
        for message in messages:
            receipts += message.count("RECEIPT\n")
        receipted.set()

    session.on_messages = count_receipts
    go.recv()
    start, cpu_start = time.monotonic(), time.process_time()
    plain = send_frame(destination, BODY).decode()
    closing = send_frame(destination, BODY, "w").decode()
    every = window or total + 1
    for n in range(1, total + 1):
        if n % every:
            session.send(plain)
        else:
            session.send(closing)
            while n // every - receipts > 2:
                receipted.clear()
                await receipted.wait()
                if session.closed is not None:
                    raise SockJSError(f"{session.path}: closed {session.closed}")
        if session.queued >= batch:
            await session.drained(batch)
    await session.drained()
    while window and receipts < total // window:
        receipted.clear()
        await asyncio.wait_for(receipted.wait(), IDLE_TIMEOUT)
    cpu = (time.process_time() - cpu_start) / (time.monotonic() - start)
    await asyncio.sleep(0.2)
    await session.close()
    return session.posts, cpu


def _produce(
    url: str,
    client: str,
    destination: str,
    total: int,
    window: int | None,
    batch: int,
    go: Pipe,
    done: Pipe,
) -> None:
    try:
        done.send(asyncio.run(_send(url, client, destination, total, window, batch, go)))
    except Exception:
        done.send((0, 0.0))
        raise


def sockjs_flow(
    url: str,
    destination: str,
    subscribers: int,
    messages: int,
    *,
    client: str,
    batch: int,
    window: int | None = None,
) -> tuple[FlowResult, dict[str, float]]:
    """:func:`stompbox.cli.load.flow` over SockJS xhr-streaming; also how many xhr_send
    POSTs the producer made (0 if it failed) and the share of a core the producing and
    the receiving process used."""
    if window is not None:
        messages -= messages % window
    ctx = mp.get_context("fork")
    progress = ctx.Value("q", 0, lock=False)
    ready_recv, ready_send = ctx.Pipe(False)
    done_recv, done_send = ctx.Pipe(False)
    go_recv, go_send = ctx.Pipe(False)
    sent_recv, sent_send = ctx.Pipe(False)
    consumer = ctx.Process(
        target=_consume,
        args=(url, client, destination, subscribers, messages, ready_send, done_send, progress),
    )
    consumer.start()
    if not ready_recv.poll(120):
        consumer.kill()
        raise ConnectionError("SockJS subscribers did not get ready within 120 s")
    if done_recv.poll(0):
        raise ConnectionError(f"SockJS subscribers failed: {done_recv.recv()[-1]}")
    ready_recv.recv()
    producer = ctx.Process(
        target=_produce,
        args=(url, client, destination, messages, window, batch, go_recv, sent_send),
    )
    producer.start()
    go_send.send(True)
    expected = subscribers * messages
    bar = ProgressBar(expected, enabled=sys.stderr.isatty())
    while not done_recv.poll(0.1):
        bar.update(int(progress.value))
        if not consumer.is_alive() and not done_recv.poll(0):
            raise ConnectionError("the SockJS receiving process died")
    first, last, delivered, receiver_cpu, problems = done_recv.recv()
    bar.close()
    posts, producer_cpu = sent_recv.recv() if sent_recv.poll(30) else (0, 0.0)
    producer.join(30)
    consumer.join(30)
    if problems:
        print(f"  SockJS sessions ended early: {problems[:3]}", flush=True)
    result = FlowResult(delivered, expected, max(last - first, 1e-9))
    return result, {"posts": posts, "producer_cpu": producer_cpu, "receiver_cpu": receiver_cpu}


def measure(target: Target, args: argparse.Namespace, catalogue: dict[str, Figure]) -> None:
    print(f"== {target.server} at {target.ws_url}", flush=True)

    def show(figure: Figure, value: float, run: dict[str, float] | None = None) -> None:
        catalogue.setdefault(figure.key, figure)
        target.results[figure.key] = value
        note = ""
        if run:
            target.runs[figure.key] = run
            if run.get("missing"):
                note = f"  ({run['missing']:,.0f} deliveries missing)"
            note += f"  (broker {run['broker_cpu']:.0%} of a core"
            if "receiver_cpu" in run:
                note += f", producer {run['producer_cpu']:.0%}, receivers {run['receiver_cpu']:.0%}"
            if run.get("posts"):
                note += f", {run['messages'] / run['posts']:,.0f} frames a POST"
            note += ")"
        print(f"  {figure.label:<44}{value:>14,.2f} {figure.unit}{note}", flush=True)

    transports = args.transports.split(",")
    runs: list[tuple[str, str, str, int]] = []
    if "queue" in args.scenarios:
        runs.append(("queue", "queue 1->1", "/queue/bench-", 1))
    if "topic" in args.scenarios:
        runs.append(("topic", f"topic 1->{args.subscribers}", "/topic/bench-", args.subscribers))
    for kind, label, prefix, subs in runs:
        messages = args.messages if subs == 1 else max(WINDOW, args.fanout_deliveries // subs)
        window = None if kind == "queue" else WINDOW
        rates: dict[str, float] = {}
        for transport in transports:
            wait_quiet(target.pid)
            key = f"{kind}_{transport}_{subs}"
            run: dict[str, float] = {"subscribers": subs}
            assert target.pid is not None
            cpu_before = cpu_seconds(target.pid)
            if transport == "ws":
                assert target.ws_url is not None
                result = flow(target.ws_url, prefix + "ws", subs, messages, window=window)
                name = "WebSocket"
            else:
                result, said = sockjs_flow(
                    sockjs_url(target),
                    prefix + "sockjs",
                    subs,
                    messages,
                    client=args.client,
                    batch=args.frames_per_post,
                    window=window,
                )
                name = "SockJS xhr-streaming"
                run |= said
            broker_cpu = (cpu_seconds(target.pid) - cpu_before) / result.seconds
            run |= {
                "broker_cpu": broker_cpu,
                "messages": result.expected // subs,
                "deliveries": result.deliveries,
                "missing": result.expected - result.deliveries,
                "seconds": result.seconds,
            }
            rates[transport] = result.rate
            show(Figure(key, f"{label}, {name}", "deliveries/s", True), result.rate, run)
        if "ws" in rates and "sockjs" in rates and rates["ws"]:
            figure = Figure(f"{kind}_ratio_{subs}", f"{label}, SockJS / WebSocket", "x", True)
            show(figure, rates["sockjs"] / rates["ws"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", default="queue,topic", help="queue, topic or both")
    parser.add_argument("--transports", default="ws,sockjs", help="ws, sockjs or both")
    parser.add_argument("--messages", type=int, default=200_000, help="queue 1->1 messages")
    parser.add_argument("--subscribers", type=int, default=100, help="topic 1->N: N")
    parser.add_argument(
        "--fanout-deliveries",
        type=int,
        default=1_000_000,
        help="deliveries per topic run (messages = this / N)",
    )
    parser.add_argument(
        "--frames-per-post",
        type=int,
        default=256,
        help="SockJS: STOMP frames the producer queues before it waits for a POST to leave",
    )
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="SockJS HTTP")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    args.load_before = os.getloadavg()[0]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20_000), hard))
    scratch = tempfile.TemporaryDirectory(prefix="stompbox-sockjs-bench-")
    target = start_stompbox_with_sockjs(Path(scratch.name))
    catalogue: dict[str, Figure] = {}
    try:
        measure(target, args, catalogue)
    finally:
        assert target.process is not None
        target.process.send_signal(signal.SIGTERM)
        target.process.wait(15)
        scratch.cleanup()
    if args.json:
        write_json(args.json, [target], catalogue, args, parser)


if __name__ == "__main__":
    main()
