"""Slow, stalled and vanished clients, over TCP and WebSocket (issue 11, scenario 4)."""

from __future__ import annotations

import asyncio
import time

import pytest

from .conftest import RSS_CEILING, BrokerFactory, run, scale
from .process import BrokerProcess
from .wire import StompClient

pytestmark = pytest.mark.chaos

STALLED_KINDS = {"tcp": "tcp", "ws": "rawws"}
"""A stalled WebSocket client is framed by hand: the package's client keeps reading."""


async def _stalled_subscriber(broker: BrokerProcess, kind: str) -> StompClient:
    if kind == "tcp":
        client = await StompClient.tcp(broker.port, rcvbuf=4096)
    else:
        client = await StompClient.raw_websocket(broker.ws_port, rcvbuf=4096)
    await client.connect()
    await client.send_frame("SUBSCRIBE", [("destination", "/topic/flood"), ("id", "t")])
    await client.send_frame("SUBSCRIBE", [("destination", "/queue/flood"), ("id", "q")])
    return client  # and never read from again


@pytest.mark.parametrize("kind", ["tcp", "ws"])
def test_a_subscriber_that_never_reads_stalls_nobody_and_costs_bounded_memory(
    broker_factory: BrokerFactory, kind: str
) -> None:
    broker = broker_factory({})
    baseline = broker.rss()
    seconds = scale(6, 30)
    body = b"x" * 4096
    sent = 0
    worst_stall = 0.0
    received: dict[str, list[float]] = {"t": [], "q": []}
    peak_rss = 0.0

    async def produce(producer: StompClient) -> None:
        nonlocal sent, worst_stall
        deadline = time.monotonic() + seconds
        batch = b"".join(
            b"SEND\ndestination:/" + kind_ + b"/flood\ncontent-length:4096\n\n" + body + b"\0"
            for kind_ in (b"topic", b"queue") * 16
        )
        while time.monotonic() < deadline:
            began = time.monotonic()
            await producer.write(batch)
            worst_stall = max(worst_stall, time.monotonic() - began)
            sent += 32

    async def consume(consumer: StompClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                frame = await consumer.read_frame(0.5)
            except TimeoutError:
                continue
            if frame.command == "MESSAGE":
                received[frame.get("subscription") or "?"].append(time.monotonic())

    async def watch(stop: asyncio.Event) -> None:
        nonlocal peak_rss
        while not stop.is_set():
            peak_rss = max(peak_rss, broker.rss())
            await asyncio.sleep(0.2)

    async def main() -> None:
        stalled = await _stalled_subscriber(broker, STALLED_KINDS[kind])
        consumer = await StompClient.tcp(broker.port)
        await consumer.connect()
        await consumer.send_frame("SUBSCRIBE", [("destination", "/topic/flood"), ("id", "t")])
        await consumer.send_frame("SUBSCRIBE", [("destination", "/queue/flood"), ("id", "q")])
        producer = await StompClient.tcp(broker.port)
        await producer.connect()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(consume(consumer, stop)), asyncio.create_task(watch(stop))]
        await produce(producer)
        ended = time.monotonic()
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        for name, times in received.items():
            assert times, f"the live consumer got nothing on subscription {name}"
            assert times[-1] > ended - 1.5, (
                f"the live consumer's subscription {name} starved: its last message came "
                f"{ended - times[-1]:.1f} s before the flood ended"
            )
        assert not producer.errors(), producer.errors()
        assert not consumer.errors(), consumer.errors()
        for client in (stalled, consumer, producer):
            await client.close()

    run(main(), timeout=seconds + 60)
    broker.check_alive()
    print(
        f"{kind}: {sent} SENDs of 4 KiB in {seconds} s, worst write stall {worst_stall:.2f} s, "
        f"live consumer got {len(received['t'])} topic + {len(received['q'])} queue messages, "
        f"broker RSS baseline {baseline:.0f} MiB, peak {peak_rss:.0f} MiB "
        f"(VmHWM {broker.peak():.0f} MiB)"
    )
    assert worst_stall < 2.0, f"the producer was held {worst_stall:.1f} s by a stalled subscriber"
    assert sent >= 1000, f"the producer managed only {sent} SENDs"
    assert broker.peak() < RSS_CEILING, f"broker VmHWM {broker.peak():.0f} MiB"
    # a stalled subscriber holds one outbound buffer (1 MiB) and a topic backlog (16 MiB)
    assert broker.peak() - baseline < 100, (
        f"broker grew {broker.peak() - baseline:.0f} MiB over its {baseline:.0f} MiB baseline"
    )


@pytest.mark.parametrize("kind", ["tcp", "ws"])
def test_a_client_that_vanishes_after_negotiating_heartbeats_is_closed(
    broker_factory: BrokerFactory, kind: str
) -> None:
    broker = broker_factory({"server": {"heartbeat": [1000, 1000]}})

    async def main() -> float:
        if kind == "tcp":
            client = await StompClient.tcp(broker.port, rcvbuf=4096)
        else:
            client = await StompClient.raw_websocket(broker.ws_port, rcvbuf=4096)
        connected = await client.connect(heartbeat=(1000, 1000))
        assert connected.get("heart-beat") is not None
        began = time.monotonic()
        # it sends nothing more; what it reads (a few heart-beats) the server cannot see
        closed = await client.closed_by_server(10.0)
        elapsed = time.monotonic() - began
        assert closed, f"still open {elapsed:.1f} s after its last byte (heart-beats 1000,1000)"
        assert elapsed < 6.0, f"closed only {elapsed:.1f} s after its last byte"
        for error in client.errors():
            assert error.get("message"), error
        await client.close()
        return elapsed

    elapsed = run(main())
    print(f"{kind}: silent client closed within {elapsed:.1f} s")


@pytest.mark.parametrize("kind", ["tcp", "ws"])
def test_a_silent_client_without_heartbeats_is_closed_when_heartbeats_are_required(
    broker_factory: BrokerFactory, kind: str
) -> None:
    broker = broker_factory({"server": {"heartbeat_required": 2000}})

    async def main() -> float:
        client = await StompClient.open(kind, broker.port if kind == "tcp" else broker.ws_port)
        await client.connect(heartbeat=(0, 0))
        await client.send_frame("SUBSCRIBE", [("destination", "/queue/idle"), ("id", "1")])
        began = time.monotonic()
        closed = await client.closed_by_server(12.0)
        elapsed = time.monotonic() - began
        assert closed, "a client silent for 12 s was kept with heartbeat_required = 2000"
        assert elapsed > 1.5, f"closed after {elapsed:.1f} s, before 2 s of silence"
        for error in client.errors():
            assert error.get("message"), error
        await client.close()
        return elapsed

    elapsed = run(main())
    print(f"{kind}: heart-beat-less silent client closed after {elapsed:.1f} s")


def _keepalive_timers(server_port: int) -> dict[int, str]:
    """Client port -> timer field of the server's end, from /proc/net/tcp (IPv4 only:
    the broker listens on 127.0.0.1). Timer 02 is the keep-alive timer."""
    timers = {}
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            parts = line.split()
            local_port = int(parts[1].split(":")[1], 16)
            remote_port = int(parts[2].split(":")[1], 16)
            if local_port == server_port and parts[3] == "01":  # ESTABLISHED
                timers[remote_port] = parts[5]
    return timers


def test_the_server_sets_keepalive_on_accepted_tcp_and_websocket_sockets(
    broker_factory: BrokerFactory,
) -> None:
    broker = broker_factory({})

    async def main() -> None:
        tcp = await StompClient.tcp(broker.port)
        ws = await StompClient.websocket(broker.ws_port)
        await tcp.connect()
        await ws.connect()
        await asyncio.sleep(0.3)  # nothing in flight: a retransmit timer would hide it
        for client, port in ((tcp, broker.port), (ws, broker.ws_port)):
            own = client.local_port
            timers = _keepalive_timers(port)
            assert own in timers, f"no server socket for client port {own}: {timers}"
            assert timers[own].startswith("02:"), (
                f"server end of a connection to {port} has timer {timers[own]}, not the "
                "keep-alive timer (02): SO_KEEPALIVE is not set"
            )
        await tcp.close()
        await ws.close()

    run(main())
