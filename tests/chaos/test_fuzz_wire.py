"""Over-the-wire fuzzing of a real broker, over TCP and WebSocket (issue 11, scenario 3).

Many connections send random mutations of valid frames of every STOMP version: headers
with ``:``, ``\\``, CR, LF and NUL in names and values, random commands, content-length
lies, truncated and pipelined frames, random heart-beats. Well-behaved subscribers of each
version listen on the same destinations meanwhile: their streams must stay whole. The
broker must survive, log no "internal error" nor Traceback, and still serve.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import pytest

from .conftest import RSS_CEILING, BrokerFactory, run, scale
from .process import BrokerProcess
from .wire import Frame, FrameReader, StompClient, encode_frame

pytestmark = pytest.mark.chaos

VERSIONS = ("1.0", "1.1", "1.2")
COMMANDS = (
    "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT",
    "DISCONNECT", "CONNECT", "STOMP",
)  # fmt: skip
DESTINATIONS = ("/topic/f0", "/topic/f1", "/queue/f0", "/queue/f1", "/topic/*", "/queue/")
NASTY = (":", "\\", "\r", "\n", "\0", "\\c", "\\t", "\r\n", "é", "\\", "::", "\x7f", " ")
SERVER_COMMANDS = {"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"}


@dataclass
class Tally:
    connections: int = 0
    frames: int = 0
    errors: int = 0
    errors_without_message: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def _nasty(rng: random.Random) -> str:
    parts = [rng.choice(NASTY) if rng.random() < 0.5 else rng.choice("abcxyz019-_") for _ in "xx"]
    return "".join(parts * rng.randint(1, 3))


def _heartbeat(rng: random.Random) -> str:
    choices = ("0,0", "1000,1000", "0,500", "10000,0", "-1,5", "a,b", "99999999999,1", "1", "")
    return rng.choice(choices)


RawFrame = tuple[str, list[tuple[str, str]], bytes]


def _plan(rng: random.Random, n: int) -> list[RawFrame]:
    """A valid conversation after CONNECT, so that mutations land in every state: SENDs
    (some persistent, some in transactions), SUBSCRIBEs, UNSUBSCRIBEs, ACKs, DISCONNECT."""
    frames: list[RawFrame] = []
    subscriptions: list[str] = []
    for i in range(rng.randint(1, 30)):
        receipt = [("receipt", f"r{n}-{i}")] if rng.random() < 0.4 else []
        destination = ("destination", rng.choice(DESTINATIONS[:4]))
        roll = rng.random()
        if roll < 0.5:
            body = rng.randbytes(rng.choice((0, 1, 10, 100, 3000)))
            headers = [destination, ("x-n", f"{n}-{i}")]
            if rng.random() < 0.5:
                headers.append(("content-length", str(len(body))))
            if rng.random() < 0.2:
                headers.append(("persistent", "true"))
            frames.append(("SEND", headers + receipt, body))
        elif roll < 0.7 and len(subscriptions) < 4:
            sid = f"s{i}"
            subscriptions.append(sid)
            ack = ("ack", rng.choice(("auto", "client", "client-individual")))
            frames.append(("SUBSCRIBE", [destination, ("id", sid), ack, *receipt], b""))
        elif roll < 0.75 and subscriptions:
            sid = subscriptions.pop(rng.randrange(len(subscriptions)))
            frames.append(("UNSUBSCRIBE", [("id", sid), *receipt], b""))
        elif roll < 0.9:
            tx = ("transaction", f"t{i}")
            frames.append(("BEGIN", [tx], b""))
            frames += [("SEND", [destination, tx], b"in tx")] * rng.randint(0, 3)
            frames.append((rng.choice(("COMMIT", "ABORT")), [tx, *receipt], b""))
        else:  # ACK and NACK of ids the server never sent: refused, and said why
            command = rng.choice(("ACK", "NACK"))
            frames.append((command, [("id", str(n)), ("message-id", str(n)), *receipt], b""))
    if rng.random() < 0.3:
        frames.append(("DISCONNECT", [("receipt", f"bye{n}")], b""))
    return frames


def _mutate(rng: random.Random, command: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """One to three structural mutations, then the frame's bytes, maybe mangled."""
    escape = rng.random() < 0.5
    for _ in range(rng.randint(1, 3)):
        what = rng.randrange(9)
        if what == 0:  # a header name or value with characters that need escaping
            name, value = (
                (_nasty(rng), "1")
                if rng.random() < 0.5
                else (f"x-{rng.randint(0, 9)}", _nasty(rng))
            )
            headers.insert(rng.randint(0, len(headers)), (name, value))
        elif what == 1:  # a random or misspelt command
            command = rng.choice(
                (command.lower(), command + "X", _nasty(rng), "", "MESSAGE", rng.choice(COMMANDS))
            )
        elif what == 2:  # content-length lies
            lie = rng.choice(
                (len(body) + 1, max(0, len(body) - 1), 0, 10**9, -1, "x", "", " 5", "1e3")
            )
            headers.append(("content-length", str(lie)))
        elif what == 3:  # repeated headers, first wins
            if headers:
                headers.append((rng.choice(headers)[0], _nasty(rng)))
        elif what == 4:
            body += rng.choice((b"\0", b"\0\0\n", b"\r\n", rng.randbytes(10)))
        elif what == 5:  # an empty or weird header line
            headers.append(rng.choice((("", ""), ("", "v"), ("k", ""), ("k:k", "v:v"))))
        elif what == 6:  # heart-beat headers where they do not belong
            headers.append(("heart-beat", _heartbeat(rng)))
        elif what == 7:  # drop a header the command needs
            if headers:
                headers.pop(rng.randrange(len(headers)))
        else:  # versions where they do not belong
            headers.append(("accept-version", rng.choice(("1.3", "1.0,2.0", "", "1.2"))))
    data = encode_frame(command, headers, body, escape=escape)
    roll = rng.random()
    if roll < 0.15:
        data = data[: rng.randint(0, len(data))]  # truncated
    elif roll < 0.25:
        at = rng.randint(0, len(data))
        data = data[:at] + rng.choice((b"\0", b"\r", b"\n", b"\r\n\r\n", b"\\", b":")) + data[at:]
    elif roll < 0.30:
        data = data.replace(b"\n", b"\r\n")
    return data


async def _fuzz_session(rng: random.Random, broker: BrokerProcess, tally: Tally, n: int) -> None:
    kind = "tcp" if rng.random() < 0.6 else "ws"
    try:
        client = await StompClient.open(kind, broker.port if kind == "tcp" else broker.ws_port)
    except (OSError, TimeoutError) as exc:
        raise AssertionError(f"the broker refused a {kind} connection: {exc}") from None
    tally.connections += 1

    async def drain() -> None:
        while True:
            try:
                await client.read_frame(60)
            except (EOFError, TimeoutError, OSError):
                return

    reader = asyncio.create_task(drain())
    try:
        frames: list[bytes] = []
        if rng.random() < 0.85:
            version = rng.choice(VERSIONS)
            frames.append(
                encode_frame(
                    rng.choice(("CONNECT", "STOMP")),
                    [
                        ("accept-version", version),
                        ("host", "/"),
                        ("heart-beat", rng.choice(("0,0", "0,0", "1000,1000", "0,500", "5000,0"))),
                    ],
                )
            )
        elif rng.random() < 0.5:  # a CONNECT of any versions and heart-beats, mangled
            connect = [("accept-version", ",".join(rng.sample(VERSIONS, rng.randint(1, 3))))]
            connect += [("host", "/"), ("heart-beat", _heartbeat(rng))]
            frames.append(_mutate(rng, rng.choice(("CONNECT", "STOMP")), connect, b""))
        for command, headers, body in _plan(rng, n):
            if rng.random() < 0.15:
                frames.append(_mutate(rng, command, headers, body))
            else:
                frames.append(encode_frame(command, headers, body))
        while frames and not client.eof:
            take = rng.choice((1, 1, 1, 2, 5))  # pipelined, with heart-beat EOLs between
            eol = rng.choice((b"", b"", b"\n", b"\r\n\n"))
            chunk = eol.join(frames[:take])
            del frames[:take]
            if kind == "tcp" and len(chunk) > 2 and rng.random() < 0.3:  # split anywhere
                at = rng.randint(1, len(chunk) - 1)
                await asyncio.wait_for(client.write(chunk[:at]), 5)
                await asyncio.sleep(0.001)
                chunk = chunk[at:]
            await asyncio.wait_for(client.write(chunk), 5)
            tally.frames += take
            if rng.random() < 0.2:
                await asyncio.sleep(rng.random() * 0.05)
        await asyncio.sleep(rng.random() * 0.2)
    except (OSError, TimeoutError, EOFError):
        pass
    except Exception as exc:  # the websockets client closed under us
        if type(exc).__module__.split(".")[0] != "websockets":
            raise
    finally:
        await client.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    for frame in client.received:
        if frame.command == "ERROR":
            tally.errors += 1
            if not frame.get("message"):
                tally.errors_without_message.append(str(frame))
        elif frame.command not in SERVER_COMMANDS:
            tally.corrupt.append(f"fuzzer got {frame}")


async def _observer(
    broker: BrokerProcess, kind: str, version: str, stop: asyncio.Event
) -> tuple[str, int]:
    """A well-behaved subscriber of ``version`` to the fuzzers' destinations; returns what
    went wrong in its stream (or "") and how many messages it got."""
    client = await StompClient.open(kind, broker.port if kind == "tcp" else broker.ws_port)
    await client.connect(version)
    for i, destination in enumerate(("/topic/f0", "/topic/f1", "/queue/f0", "/queue/f1")):
        await client.send_frame("SUBSCRIBE", [("destination", destination), ("id", f"o{i}")])
    problem = ""
    messages = 0
    while not stop.is_set() and not problem:
        try:
            frame = await client.read_frame(0.5)
        except TimeoutError:
            continue
        except EOFError:
            problem = f"{kind} {version} observer disconnected: {client.errors()}"
            break
        if frame.command == "MESSAGE":
            messages += 1
            names = [name for name, _ in frame.headers]
            once = all(names.count(h) == 1 for h in ("destination", "message-id", "subscription"))
            if (
                frame.malformed
                or not once
                or frame.get("destination") not in DESTINATIONS
                or frame.get("subscription") not in ("o0", "o1", "o2", "o3")
            ):
                problem = f"{kind} {version} observer got a broken MESSAGE: {frame}"
        elif frame.command not in SERVER_COMMANDS or frame.command == "ERROR":
            problem = f"{kind} {version} observer got {frame}"
    await client.close()
    return problem, messages


async def _well_behaved(broker: BrokerProcess, kind: str) -> None:
    client = await StompClient.open(kind, broker.port if kind == "tcp" else broker.ws_port)
    await client.connect("1.2", timeout=5)
    destination = f"/queue/after-fuzz-{kind}"
    await client.send_frame("SUBSCRIBE", [("destination", destination), ("id", "1")])
    await client.send_frame("SEND", [("destination", destination), ("receipt", "r")], b"still here")
    message = await client.until("MESSAGE", timeout=5)
    assert message.body == b"still here"
    await client.close()


def test_fuzzed_frames_from_many_connections_never_crash_or_corrupt(
    broker_factory: BrokerFactory,
) -> None:
    broker = broker_factory({})
    workers = scale(50, 200)
    seconds = scale(15, 60)
    seed = random.randrange(1 << 32)
    tally = Tally()
    observed: list[int] = []

    async def worker(index: int, deadline: float) -> None:
        rng = random.Random(seed + index)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            await _fuzz_session(rng, broker, tally, n)

    async def main() -> list[str]:
        stop = asyncio.Event()
        observers = [
            asyncio.create_task(_observer(broker, kind, version, stop))
            for kind in ("tcp", "ws")
            for version in VERSIONS
        ]
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(worker(i, deadline) for i in range(workers)))
        stop.set()
        watched = await asyncio.gather(*observers)
        observed.extend(n for _, n in watched)
        problems = [p for p, _ in watched if p]
        broker.check_alive()
        await _well_behaved(broker, "tcp")
        await _well_behaved(broker, "ws")
        return problems

    problems = run(main(), timeout=seconds + 90)
    print(
        f"fuzz seed {seed}: {workers} workers, {seconds} s, {tally.connections} connections, "
        f"{tally.frames} frames, {tally.errors} ERRORs; observers got {observed} messages; "
        f"broker VmHWM {broker.peak():.0f} MiB"
    )
    broker.check_alive()
    assert not problems, problems
    assert not tally.corrupt, tally.corrupt[:5]
    assert not tally.errors_without_message, tally.errors_without_message[:5]
    broker.check_log()
    assert broker.peak() < RSS_CEILING


def test_observer_sees_frames_as_the_server_sends_them() -> None:
    """The fuzz test's own reader, checked on the frames it must accept."""
    reader = FrameReader()
    stream = (
        b"CONNECTED\nversion:1.2\n\n\0\n\n"
        b"MESSAGE\ndestination:/topic/f0\nmessage-id:1\nx:a\\cb\ncontent-length:3\n\na\0b\0"
        b"ERROR\nmessage:bad\n\n\0"
    )
    frames: list[Frame] = []
    for i in range(len(stream)):
        frames += reader.feed(stream[i : i + 1])
    assert [f.command for f in frames] == ["CONNECTED", "MESSAGE", "ERROR"]
    assert frames[1].get("x") == "a:b" and frames[1].body == b"a\0b"
    assert reader.heartbeats == 2
