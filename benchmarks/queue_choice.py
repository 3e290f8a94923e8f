"""In-process cost of one queue SEND handed to a consumer (Broker.send, the choice of
consumer, the framing), without sockets, so that a change to the queue 1->1 hot path
(the consumer ranking's one test per message, issue 17) shows above the noise that
end-to-end runs have on a shared machine.

    python -m benchmarks.queue_choice
    python -m benchmarks.queue_choice --consumers 4 --headers x-priority:5

``--headers`` are added to every consumer's SUBSCRIBE (``exclusive:true``,
``x-priority:N``): without them the queue keeps its plain round-robin. Prints the best of
``--rounds`` rounds, in µs per SEND; compare two trees by running each
(``PYTHONPATH=<tree>/src``) in turn, several times.
"""

from __future__ import annotations

import argparse
import time

from stompbox.broker import Broker
from stompbox.protocol import Frame

from .inprocess import Sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1)
    parser.add_argument("--headers", nargs="*", default=[], help="name:value, on SUBSCRIBE")
    parser.add_argument("--messages", type=int, default=20_000, help="per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--body", type=int, default=100, help="bytes")
    args = parser.parse_args()
    extra = tuple(tuple(h.split(":", 1)) for h in args.headers)
    broker = Broker()
    sessions = []
    for _ in range(args.consumers):
        session = broker.open_session(Sink(), "1.2")
        subscribe = Frame("SUBSCRIBE", (("destination", "/queue/q"), ("id", "0"), *extra))
        broker.subscribe(session, subscribe)
        sessions.append(session)
    producer = broker.open_session(Sink(), "1.2")
    frame = Frame("SEND", (("destination", "/queue/q"),), b"x" * args.body)
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
    label = " ".join(args.headers) or "plain"
    print(f"queue 1->{args.consumers} ({label}): {best * 1e6:.2f} µs per SEND")


if __name__ == "__main__":
    main()
