"""What the client hands out: received messages, subscriptions and transactions.

Handles reach the client only through :class:`ClientLink`, which the client gives each
one: this module never imports the client's, and neither side calls into the other's
private parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import TracebackType
from typing import Any, Protocol

from stompbox.protocol import Frame

__all__ = ["ClientLink", "Message", "Subscription", "Transaction"]

SEQ = "stompbox-seq"
_RESUME_HEADERS = ("resume-from", "since")


class ClientLink(Protocol):
    """What handles need from the client that made them."""

    async def send(self, destination: str, body: Any = b"", **kwargs: Any) -> None:
        """:meth:`Client.send <stompbox.client.Client.send>`."""

    async def request(self, frame: Frame, *, receipt: bool) -> None:
        """Send ``frame``; with ``receipt``, wait until the broker confirms it."""

    async def settle(self, command: str, message: Message, transaction: Transaction | None) -> None:
        """ACK or NACK ``message`` with the headers the connection's version asks for."""

    async def add_subscription(self, subscription: Subscription) -> None:
        """Register ``subscription`` and SUBSCRIBE, waiting for the receipt."""

    async def remove_subscription(self, subscription: Subscription) -> None:
        """Forget ``subscription`` and UNSUBSCRIBE if still connected."""


class Message:
    """A MESSAGE received on a subscription."""

    __slots__ = ("frame", "generation", "subscription")

    def __init__(self, frame: Frame, subscription: Subscription, generation: int) -> None:
        self.frame = frame
        self.subscription = subscription
        self.generation = generation
        """Which of the client's connections brought it: acks go back on that one only."""

    @property
    def headers(self) -> dict[str, str]:
        """Headers as a dict; where a header repeats, the first occurrence wins."""
        return dict(reversed(self.frame.headers))

    @property
    def body(self) -> bytes:
        return self.frame.body

    @property
    def text(self) -> str:
        return self.frame.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.frame.body)

    @property
    def destination(self) -> str:
        return self.frame.get("destination", "") or ""

    @property
    def message_id(self) -> str:
        return self.frame.get("message-id", "") or ""

    @property
    def redelivered(self) -> bool:
        return self.frame.get("redelivered") == "true"

    @property
    def position(self) -> str | None:
        """Its ``stompbox-seq``, on a topic the broker retains (docs/delivery.md)."""
        return self.frame.get(SEQ)

    async def ack(self, transaction: Transaction | None = None) -> None:
        """Acknowledge this message (and, in ``client`` mode, all before it)."""
        await self.subscription.link.settle("ACK", self, transaction)

    async def nack(self, transaction: Transaction | None = None) -> None:
        """Tell the broker this message was not processed."""
        await self.subscription.link.settle("NACK", self, transaction)

    def __repr__(self) -> str:
        return f"<Message {self.destination} {self.message_id} {len(self.body)} bytes>"


class Subscription:
    """An active SUBSCRIBE; iterate it for messages, leave its ``async with`` to end it."""

    def __init__(
        self,
        link: ClientLink,
        sub_id: str,
        destination: str,
        ack: str,
        headers: dict[str, str],
        max_queue: int,
    ) -> None:
        self.link = link
        self.id = sub_id
        self.destination = destination
        self.ack = ack
        self.headers = headers
        self.active = False
        self.position: str | None = None
        """The ``stompbox-seq`` of the last message received from a retained topic: a
        SUBSCRIBE after a reconnection says ``resume-from`` it, and the broker replays
        what came meanwhile, before live messages (docs/delivery.md)."""
        self.gap = False
        """Set when the broker said, on resuming, that it no longer held everything since
        :attr:`position`: messages were missed, and the application should resync (read
        the current state afresh), then set it back to False."""
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(max_queue)
        self._end: BaseException | None = None

    def subscribe_frame(self) -> Frame:
        """The SUBSCRIBE that opens this subscription (again, after a reconnection, with
        ``resume-from`` the last position seen, if any, in place of the caller's own)."""
        headers = list(self.headers.items())
        if self.position is not None:
            headers = [(k, v) for k, v in headers if k not in _RESUME_HEADERS]
            headers.append(("resume-from", self.position))
        return Frame(
            "SUBSCRIBE",
            (("destination", self.destination), ("id", self.id), ("ack", self.ack), *headers),
        )

    async def __aenter__(self) -> Subscription:
        await self.link.add_subscription(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.link.remove_subscription(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        queue = self._queue
        while True:
            if not queue.empty():
                item = queue.get_nowait()
            elif self._end is not None:
                raise self._end  # every later read ends the same way
            else:
                item = await queue.get()
            if item is not None:  # None only wakes a reader to look at _end
                return item

    async def deliver(self, message: Message) -> None:
        """Queue ``message`` for the reader, waiting while the queue is full (backpressure)."""
        frame = message.frame
        position = frame.get(SEQ)
        if position is not None:
            self.position = position
            if frame.get("stompbox-resume") == "gap":
                self.gap = True
        await self._queue.put(message)

    def finish(self, end: BaseException) -> None:
        """No more messages: after those queued, iteration raises ``end``."""
        self._end = end
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def get(self, timeout: float | None = None) -> Message:
        """The next message; raises :class:`TimeoutError` after ``timeout`` seconds."""
        return await asyncio.wait_for(self.__anext__(), timeout)


class Transaction:
    """A transaction: SENDs and ACKs in it take effect on COMMIT only."""

    def __init__(self, link: ClientLink, tx_id: str) -> None:
        self.link = link
        self.id = tx_id

    async def send(self, destination: str, body: Any = b"", **kwargs: Any) -> None:
        await self.link.send(destination, body, transaction=self, **kwargs)

    async def __aenter__(self) -> Transaction:
        await self.link.request(Frame("BEGIN", (("transaction", self.id),)), receipt=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        command = "COMMIT" if exc_type is None else "ABORT"
        await self.link.request(Frame(command, (("transaction", self.id),)), receipt=True)
