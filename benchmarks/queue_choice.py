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

from .inprocess import best_per_send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1)
    parser.add_argument("--headers", nargs="*", default=[], help="name:value, on SUBSCRIBE")
    parser.add_argument("--messages", type=int, default=20_000, help="per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--body", type=int, default=100, help="bytes")
    args = parser.parse_args()
    extra = tuple((name, value) for name, _, value in (h.partition(":") for h in args.headers))
    best = best_per_send("/queue/q", extra, args.consumers, args.body, args.messages, args.rounds)
    label = " ".join(args.headers) or "plain"
    print(f"queue 1->{args.consumers} ({label}): {best * 1e6:.2f} µs per SEND")


if __name__ == "__main__":
    main()
