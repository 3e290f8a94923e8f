"""Fuzz the frame parser and the server connection: only ProtocolError may come out.

Run: ``python fuzz/fuzz_parser.py --seconds 60`` (or ``make fuzz``). Uses atheris
(coverage-guided) when it is installed, and hypothesis otherwise; both feed mutated
frame streams split at random points, for every protocol version.
"""

from __future__ import annotations

import argparse
import sys
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stompbox.protocol import FrameParser, Limits, ProtocolError, ServerConnection

SEEDS = [
    b"CONNECT\naccept-version:1.2\nhost:x\nheart-beat:0,1000\n\n\x00",
    b"SEND\ndestination:/queue/a\ncontent-length:5\n\nab\x00cd\x00\n\r\n",
    b"SUBSCRIBE\r\nid:0\r\ndestination:/topic/a\\c\\n\r\nack:client\r\n\r\n\x00",
    b"MESSAGE\nfoo:World\nfoo:Hello\n\nbody\x00",
]
LIMITS = Limits(max_frame_size=4096, max_body_size=2048, max_headers=16, max_header_length=512)


def exercise(data: bytes, split: int) -> None:
    """Feed ``data`` to a parser per version and to a server connection, split at ``split``."""
    for version in (None, "1.0", "1.1", "1.2"):
        parser = FrameParser(version, LIMITS)
        try:
            for part in (data[:split], data[split:]):
                parser.feed(part)
                for frame in parser.frames():
                    assert isinstance(frame.command, str) and isinstance(frame.body, bytes)
        except ProtocolError:
            pass
    server = ServerConnection(limits=LIMITS, connect_limits=LIMITS)
    try:
        for part in (data[:split], data[split:], b""):
            server.receive_data(part)
            for event in server.events():
                if getattr(event, "command", None) in ("CONNECT", "STOMP"):
                    server.accept()
    except ProtocolError:
        pass
    server.data_to_send()


streams = st.builds(
    lambda seeds, noise, at: b"".join(seeds)[:at] + noise + b"".join(seeds)[at:],
    st.lists(st.sampled_from(SEEDS), min_size=1, max_size=4),
    st.binary(max_size=16),
    st.integers(0, 400),
) | st.binary(max_size=600)


def run_hypothesis(seconds: float) -> int:
    deadline = time.monotonic() + seconds
    rounds = 0

    @settings(
        max_examples=2000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(streams, st.integers(0, 600))
    def target(data: bytes, split: int) -> None:
        exercise(data, split % (len(data) + 1))

    while time.monotonic() < deadline:
        target()
        rounds += 1
    return rounds * 2000


def run_atheris(seconds: float) -> None:  # pragma: no cover - optional tool
    import atheris

    def target(data: bytes) -> None:
        split = data[0] if data else 0
        exercise(data[1:], split % (len(data) + 1))

    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}"], target)
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    args = parser.parse_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    if engine == "atheris":
        run_atheris(args.seconds)
    else:
        count = run_hypothesis(args.seconds)
        print(f"hypothesis fuzzing: {count} inputs in {args.seconds:.0f} s, no crash")


if __name__ == "__main__":
    main()
