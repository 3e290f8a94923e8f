"""What the client hands out: received messages, subscriptions and transactions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import TracebackType
from typing import TYPE_CHECKING, Any

from stompbox.protocol import Frame

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Message", "Subscription", "Transaction"]


class Message:
    """A MESSAGE received on a subscription."""

    __slots__ = ("_generation", "frame", "subscription")

    def __init__(self, frame: Frame, subscription: Subscription, generation: int) -> None:
        self.frame = frame
        self.subscription = subscription
        self._generation = generation

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

    async def ack(self, transaction: Transaction | None = None) -> None:
        """Acknowledge this message (and, in ``client`` mode, all before it)."""
        await self.subscription.client._settle("ACK", self, transaction)

    async def nack(self, transaction: Transaction | None = None) -> None:
        """Tell the broker this message was not processed."""
        await self.subscription.client._settle("NACK", self, transaction)

    def __repr__(self) -> str:
        return f"<Message {self.destination} {self.message_id} {len(self.body)} bytes>"


class Subscription:
    """An active SUBSCRIBE; iterate it for messages, leave its ``async with`` to end it."""

    def __init__(
        self,
        client: Client,
        sub_id: str,
        destination: str,
        ack: str,
        headers: dict[str, str],
        max_queue: int,
    ) -> None:
        self.client = client
        self.id = sub_id
        self.destination = destination
        self.ack = ack
        self.headers = headers
        self.active = False
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(max_queue)
        self._end: BaseException | None = None

    def _frame(self) -> Frame:
        return Frame(
            "SUBSCRIBE",
            (
                ("destination", self.destination),
                ("id", self.id),
                ("ack", self.ack),
                *self.headers.items(),
            ),
        )

    async def __aenter__(self) -> Subscription:
        await self.client._subscribe(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client._unsubscribe(self)

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

    def _finish(self, end: BaseException) -> None:
        """No more messages: after those queued, iteration raises ``end``."""
        self._end = end
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def get(self, timeout: float | None = None) -> Message:
        """The next message; raises :class:`TimeoutError` after ``timeout`` seconds."""
        return await asyncio.wait_for(self.__anext__(), timeout)


class Transaction:
    """A transaction: SENDs and ACKs in it take effect on COMMIT only."""

    def __init__(self, client: Client, tx_id: str) -> None:
        self.client = client
        self.id = tx_id

    async def send(self, destination: str, body: Any = b"", **kwargs: Any) -> None:
        await self.client.send(destination, body, transaction=self, **kwargs)

    async def __aenter__(self) -> Transaction:
        await self.client._write(Frame("BEGIN", (("transaction", self.id),)))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        command = "COMMIT" if exc_type is None else "ABORT"
        await self.client._request(Frame(command, (("transaction", self.id),)), receipt=True)
