"""What the in-process benchmarks (queue_choice.py, topic_publish.py) share: a broker
session's sink without sockets, whose output the benchmark drains by hand."""

from __future__ import annotations

import time

from stompbox.broker import Broker
from stompbox.protocol import Frame, ServerConnection


class Sink:
    """A connected server connection whose output the loop drains by hand."""

    def __init__(self) -> None:
        self.connection = ServerConnection(output_limit=1 << 30)
        self.connection.receive_data(b"CONNECT\naccept-version:1.2\nhost:x\n\n\0")
        list(self.connection.events())
        self.connection.accept()
        self.connection.data_to_send()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def fail(self, message: str, detail: str) -> None:
        raise AssertionError(f"{message}: {detail}")


def best_per_send(
    destination: str,
    subscribe_headers: tuple[tuple[str, str], ...],
    subscribers: int,
    body: int,
    messages: int,
    rounds: int,
) -> float:
    """Seconds per SEND to ``destination`` with ``subscribers`` sessions subscribed, the
    best of ``rounds`` rounds of ``messages``; outputs are drained every 500 SENDs."""
    broker = Broker()
    sessions = []
    for _ in range(subscribers):
        session = broker.open_session(Sink(), "1.2")
        headers = (("destination", destination), ("id", "0"), *subscribe_headers)
        broker.subscribe(session, Frame("SUBSCRIBE", headers))
        sessions.append(session)
    producer = broker.open_session(Sink(), "1.2")
    frame = Frame("SEND", (("destination", destination),), b"x" * body)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for n in range(messages):
            broker.send(producer, frame)
            if n % 500 == 499:
                for session in sessions:
                    session.connection.data_to_send()
                    broker.output_written(session, True)
        best = min(best, (time.perf_counter() - start) / messages)
    return best
