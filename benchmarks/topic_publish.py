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

from .inprocess import best_per_send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5_000, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--body", type=int, default=100, help="bytes")
    args = parser.parse_args()
    best = best_per_send("/topic/t", (), args.subscribers, args.body, args.messages, args.rounds)
    print(f"topic 1->{args.subscribers}: {best * 1e6:.1f} µs per publish")


if __name__ == "__main__":
    main()
