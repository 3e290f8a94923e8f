"""Frames per second through the sans-IO parser and serializer, on one core.

Prints stompbox's figures beside a plain split-and-decode implementation (the way most
Python STOMP code parses) and the ratio, then the time to parse one large frame arriving in
64 KiB reads with and without ``content-length``: the parser finds the NUL that ends a body
without one as the reads arrive, so the two should differ by a small factor, not by one
that grows with the frame. Run: ``python benchmarks/protocol.py``.
Figures are the best of several rounds, since a shared machine's noise only slows runs.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from stompbox.protocol import Frame, FrameParser, Limits, serialize

SEND_HEADERS = (("destination", "/queue/bench"), ("content-type", "text/plain"))
MESSAGE_HEADERS = (
    ("destination", "/queue/bench"),
    ("message-id", "T_1-42"),
    ("subscription", "0"),
    ("content-type", "text/plain"),
)


_HEADER_END = re.compile(b"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length:(\d+)\r?$", re.MULTILINE)
_LINE_END = re.compile("\r?\n")
_HEADER_LINE = re.compile(r"^([^:]+):(.*)$")
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPES = {"n": "\n", "c": ":", "\\": "\\", "r": "\r"}


def plain_parse(data: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """The usual hand-written approach (regexes to frame, split and decode per header),
    kept correct: content-length bodies, first header wins, unescaping, no quadratic copy."""
    frames = []
    pos = 0
    size = len(data)
    while pos < size:
        while pos < size and data[pos] in b"\r\n":
            pos += 1
        end = _HEADER_END.search(data, pos)
        if end is None:
            break
        length = _CONTENT_LENGTH.search(data, pos, end.start())
        if length is not None:
            stop = end.end() + int(length.group(1))
        else:
            stop = data.find(b"\x00", end.end())
        if stop < 0 or stop >= size:
            break
        lines = _LINE_END.split(data[pos : end.start()].decode("utf-8"))
        headers: dict[str, str] = {}
        for line in lines[1:]:
            match = _HEADER_LINE.match(line)
            if match is None:
                raise ValueError(line)
            name, value = match.groups()
            value = _ESCAPE.sub(lambda m: _UNESCAPES[m.group(1)], value)
            headers.setdefault(name, value)
        frames.append((lines[0], headers, data[end.end() : stop]))
        pos = stop + 1
    return frames


def plain_serialize(frame: Frame) -> bytes:
    lines = [frame.command]
    for name, value in frame.headers:
        value = value.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\c")
        lines.append(f"{name}:{value}")
    lines.append(f"content-length:{len(frame.body)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + frame.body + b"\x00"


def rate(run: Callable[[], int], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        count = run()
        best = max(best, count / (time.perf_counter() - start))
    return best


def bench_size(size: int, n: int, rounds: int) -> None:
    body = b"x" * size
    send = serialize(Frame("SEND", SEND_HEADERS, body))
    per_read = max(1, 65536 // len(send))  # what one 64 KiB socket read holds
    stream = send * per_read
    batches = max(1, n // per_read)
    message = Frame("MESSAGE", MESSAGE_HEADERS, body)

    def ours_parse() -> int:
        p = FrameParser("1.2")
        for _ in range(batches):
            p.feed(stream)
            p.frames()
        return batches * per_read

    def plain_parse_run() -> int:
        for _ in range(batches):
            plain_parse(stream)
        return batches * per_read

    def ours_parse_one() -> int:
        p = FrameParser("1.2")
        for _ in range(n):
            p.feed(send)
            p.frames()
        return n

    def plain_parse_one() -> int:
        for _ in range(n):
            plain_parse(send)
        return n

    def ours_serialize() -> int:
        for _ in range(n):
            serialize(message)
        return n

    def plain_serialize_run() -> int:
        for _ in range(n):
            plain_serialize(message)
        return n

    for label, ours, plain in (
        (f"parse SEND {size} B, 64 KiB reads", ours_parse, plain_parse_run),
        (f"parse SEND {size} B, one per read", ours_parse_one, plain_parse_one),
        (f"serialize MESSAGE {size} B", ours_serialize, plain_serialize_run),
    ):
        a = rate(ours, rounds)
        b = rate(plain, rounds)
        print(f"{label:<42}{a:>12,.0f}/s{b:>12,.0f}/s{a / b:>7.1f}x", flush=True)


def best_ms(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def bench_large_body(size: int, rounds: int) -> None:
    """One ``size``-byte body in 64 KiB reads, with and without ``content-length``."""
    frame = Frame("SEND", SEND_HEADERS, b"x" * size)
    with_length = serialize(frame)
    without_length = serialize(frame._replace(body=b""))[:-1] + frame.body + b"\0"
    limits = Limits(max_frame_size=None, max_body_size=None)

    def parse_in_reads(data: bytes) -> Callable[[], object]:
        reads = [data[i : i + 65536] for i in range(0, len(data), 65536)]

        def run() -> object:
            parser = FrameParser("1.2", limits)
            for read in reads:
                parser.feed(read)
                frames = parser.frames()
            assert len(frames) == 1 and len(frames[0].body) == size
            return frames

        return run

    a = best_ms(parse_in_reads(with_length), rounds)
    b = best_ms(parse_in_reads(without_length), rounds)
    label = f"parse SEND {size >> 20} MiB, 64 KiB reads"
    print(f"{label:<42}{'content-length':>14}{'none':>14}{'ratio':>8}")
    print(f"{'':<42}{a:>11,.1f} ms{b:>11,.1f} ms{b / a:>7.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000, help="frames per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{'benchmark':<42}{'stompbox':>14}{'plain':>14}{'ratio':>8}")
    for size in (128, 4096):
        bench_size(size, int(args.frames), int(args.rounds))
    bench_large_body(16 * 1024 * 1024, int(args.rounds))


if __name__ == "__main__":
    main()
