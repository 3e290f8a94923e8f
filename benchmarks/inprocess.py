"""What the in-process benchmarks (queue_choice.py, topic_publish.py) share: a broker
session's sink without sockets, whose output the benchmark drains by hand."""

from __future__ import annotations

from stompbox.protocol import ServerConnection


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
