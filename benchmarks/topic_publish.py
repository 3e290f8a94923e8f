"""In-process cost of one topic publish to N auto-ack subscribers: Broker.send, the
fan-out and the framing, without sockets, so that a change to the hot path (retention's
one test per message, issue 17) shows above the noise that end-to-end runs have on a
shared machine.

    python -m benchmarks.topic_publish --subscribers 100

Prints the best of ``--rounds`` rounds, in µs per publish; compare two trees by running
each (``PYTHONPATH=<tree>/src``) in turn, several times.
"""

from __future__ import annotations

import argparse
import time

from stompbox.broker import Broker
from stompbox.protocol import Frame

from .inprocess import Sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5_000, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--body", type=int, default=100, help="bytes")
    args = parser.parse_args()
    broker = Broker()
    sessions = []
    for _ in range(args.subscribers):
        session = broker.open_session(Sink(), "1.2")
        subscribe = Frame("SUBSCRIBE", (("destination", "/topic/t"), ("id", "0")))
        broker.subscribe(session, subscribe)
        sessions.append(session)
    producer = broker.open_session(Sink(), "1.2")
    frame = Frame("SEND", (("destination", "/topic/t"),), b"x" * args.body)
    best = float("inf")
    for _ in range(args.rounds):
        start = time.perf_counter()
        for n in range(args.messages):
            broker.send(producer, frame)
            if n % 500 == 499:
                for session in sessions:
                    session.connection.data_to_send()
                    broker.output_written(session, True)
        best = min(best, (time.perf_counter() - start) / args.messages)
    print(f"topic 1->{args.subscribers}: {best * 1e6:.1f} µs per publish")


if __name__ == "__main__":
    main()
