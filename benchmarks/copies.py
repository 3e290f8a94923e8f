"""How many times a large message body is copied inside stompbox, relayed and embedded.

Every allocation of 1 MiB or more is its own mmap under ``MALLOC_MMAP_THRESHOLD_=1048576``,
so ``strace -e mmap,mremap`` on ``stompbox serve`` counts the body-sized copies its code
makes (not the kernel's, nor uvloop's reads of at most 256 KiB) while ``--messages``
messages of ``--body`` bytes go through, on two legs apart:

- ``in``: client socket -> stompbox -> broker (the SENDs, each with a receipt);
- ``out``: broker -> stompbox -> client socket (the MESSAGEs to one subscriber).

With ``--relay URL`` the broker is that one (RabbitMQ from ``scripts/rabbitmq.sh start``
by default); without, the embedded broker. Needs strace (``apt-get install strace``).

    python benchmarks/copies.py                      # both, side by side
    python benchmarks/copies.py --body 8388608 --messages 3
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from stompbox.cli.links import read_frame, stomp_connect, subscribe
from stompbox.net import parse_url

from .broker import free_port, reachable

RABBITMQ = "stomp://guest:guest@127.0.0.1:61623/"
_SIZE = re.compile(rb"mmap\(NULL, (\d+),|mremap\(0x[0-9a-f]+, \d+, (\d+),")


def count(relay: str | None, body_size: int, messages: int, trace: Path) -> dict[str, float]:
    """Body-sized allocations per message on each leg."""
    port = free_port()
    command = [sys.executable, "-m", "stompbox.cli", "serve", "--port", str(port)]
    command += ["--ws-port", "0", "--log-level", "warning"]
    if relay is not None:
        command += ["--relay", relay]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    serve = subprocess.Popen(command, env=env)
    url = parse_url(f"stomp://127.0.0.1:{port}/")
    try:
        if not reachable(f"stomp://127.0.0.1:{port}/", 15):
            raise SystemExit("stompbox serve did not start")
        destination = f"/queue/copies-{uuid.uuid4().hex[:8]}"
        body = b"y" * body_size
        send = (
            f"SEND\ndestination:{destination}\ncontent-length:{body_size}\nreceipt:r\n\n".encode()
            + body
            + b"\0"
        )
        publisher = stomp_connect(url)
        subscriber = stomp_connect(url)
        for link in (publisher, subscriber):  # each client's relay connection is up
            subscribe(link, f"/topic/copies-ready-{uuid.uuid4().hex}", "ready")
        time.sleep(0.5)
        strace = subprocess.Popen(
            ["strace", "-f", "-e", "trace=mmap,mremap", "-o", str(trace), "-p", str(serve.pid)],
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attached
        legs: dict[str, int] = {}
        for leg in ("in", "out"):
            mark = trace.stat().st_size if trace.exists() else 0
            if leg == "in":
                for _ in range(messages):
                    publisher.send(send)
                    assert read_frame(publisher).startswith(b"RECEIPT")
            else:  # the queue holds them: all come now
                subscriber.send(f"SUBSCRIBE\nid:0\ndestination:{destination}\n\n\0".encode())
                received = 0
                while received < messages * (body_size + 1):
                    chunk = subscriber.recv()
                    if not chunk:
                        raise SystemExit("the subscriber's connection closed")
                    received += len(chunk)
            time.sleep(0.5)
            legs[leg] = mark
        strace.send_signal(signal.SIGINT)
        strace.wait()
        data = trace.read_bytes()
        in_part, out_part = data[legs["in"] : legs["out"]], data[legs["out"] :]
        return {
            "in": _big(in_part, body_size) / messages,
            "out": _big(out_part, body_size) / messages,
        }
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(15)


def _big(trace: bytes, size: int) -> int:
    return sum(
        1 for match in _SIZE.finditer(trace) if int(match.group(1) or match.group(2)) >= size
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--body", type=int, default=2 << 20, help="body bytes (>= 1 MiB)")
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--relay", default=RABBITMQ, help="broker URL to relay to")
    args = parser.parse_args()
    if args.body < 1 << 20:
        parser.error("--body must be at least 1048576: smaller copies are not mmaps")
    trace = Path(f"/tmp/stompbox-copies-{os.getpid()}.strace")
    rows = [
        ("embedded broker", count(None, args.body, args.messages, trace)),
        (
            f"relay to {parse_url(args.relay).host}",
            count(args.relay, args.body, args.messages, trace),
        ),
    ]
    trace.unlink(missing_ok=True)
    print(f"body-sized copies per message ({args.body} bytes, {args.messages} messages)")
    print(f"{'':<24}{'client->broker':>16}{'broker->client':>16}{'total':>8}")
    for name, legs in rows:
        total = legs["in"] + legs["out"]
        print(f"{name:<24}{legs['in']:>16.1f}{legs['out']:>16.1f}{total:>8.1f}")
    extra = sum(rows[1][1].values()) - sum(rows[0][1].values())
    print(f"the relay adds {extra:.1f} cop{'y' if extra == 1 else 'ies'} per message")


if __name__ == "__main__":
    main()
