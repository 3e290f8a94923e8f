"""Message rates and recent history for the management API, from samples of counters.

The broker keeps only running totals (messages published and delivered, overall and per
queue); rates are the change between two samples taken ``interval`` seconds apart, as
RabbitMQ's management plugin does. Samples are taken on a timer, not per message, so
nothing is added to a frame's path. Each series keeps the last ``window`` seconds: the
memory is bounded by the number of queues, and a queue the broker forgot is dropped at
the next sample. Full history is kept for at most ``max_histories`` queues at a time
(about 26 KiB each, measured with tracemalloc); the others keep the two samples a rate
needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from stompbox.broker import BrokerStats
from stompbox.broker.admin import BrokerAdmin

__all__ = ["QueuePoint", "RateSampler", "Rates"]


class _Totals(NamedTuple):
    at: float
    published: int
    delivered: int


class _QueueTotals(NamedTuple):
    at: float
    messages: int
    published: int
    delivered: int


@dataclass(frozen=True, slots=True)
class Rates:
    published_per_second: float = 0.0
    delivered_per_second: float = 0.0


@dataclass(frozen=True, slots=True)
class QueuePoint:
    """One sample of a queue: its depth, and its rates since the sample before."""

    at: float
    """Seconds since the epoch."""
    messages: int
    published_per_second: float
    delivered_per_second: float


class _Series:
    """A queue's samples; ``key`` is the queue object they were read from, so that a
    queue forgotten and made again between two samples starts a new series."""

    __slots__ = ("key", "points")

    def __init__(self, key: object, size: int) -> None:
        self.key = key
        self.points: deque[_QueueTotals] = deque(maxlen=size)


class RateSampler:
    """Samples the broker's counters every ``interval`` seconds, keeping ``window``
    seconds of them. :meth:`sample` takes the time as an argument, so that rates are
    tested without a clock; :meth:`start` runs it on the event loop."""

    def __init__(
        self,
        admin: BrokerAdmin,
        interval: float = 5.0,
        window: float = 600.0,
        max_histories: int = 200,
    ) -> None:
        if interval <= 0 or window < interval:
            raise ValueError(f"need 0 < interval <= window, not {interval} and {window}")
        self.max_histories = max_histories
        """Queues whose whole window is kept; the first seen while there is room."""
        self.admin = admin
        self.stats: BrokerStats = admin.broker.stats
        self.interval = interval
        self.size = int(window / interval) + 1
        """Samples kept per series: ``window`` seconds of intervals, and the one before."""
        self.totals: deque[_Totals] = deque(maxlen=self.size)
        self.queues: dict[str, _Series] = {}
        self._task: asyncio.Task[None] | None = None

    def sample(self, now: float | None = None) -> None:
        """Read every counter once; ``now`` is seconds since the epoch."""
        at = time.time() if now is None else now
        stats = self.stats
        self.totals.append(_Totals(at, stats.published, stats.delivered))
        current = self.admin.queue_objects()
        for name in [name for name in self.queues if name not in current]:
            del self.queues[name]
        full = sum(1 for series in self.queues.values() if series.points.maxlen == self.size)
        for name, queue in current.items():
            series = self.queues.get(name)
            if series is None or series.key is not queue:
                if series is not None and series.points.maxlen == self.size:
                    full -= 1
                size = self.size if full < self.max_histories else 2
                full += size == self.size
                series = self.queues[name] = _Series(queue, size)
            series.points.append(
                _QueueTotals(at, len(queue.backlog), queue.published, queue.delivered)
            )

    def rates(self) -> Rates:
        """The whole broker's rates over the last interval (0 before two samples)."""
        if len(self.totals) < 2:
            return Rates()
        before, last = self.totals[-2], self.totals[-1]
        return _rates(before.at, last.at, before, last)

    def queue_rates(self, name: str) -> Rates:
        series = self.queues.get(name)
        if series is None or len(series.points) < 2:
            return Rates()
        before, last = series.points[-2], series.points[-1]
        return _rates(before.at, last.at, before, last)

    def history(self, name: str) -> list[QueuePoint]:
        """A queue's samples, oldest first; the first has no rate yet (0)."""
        series = self.queues.get(name)
        if series is None:
            return []
        points: list[QueuePoint] = []
        previous: _QueueTotals | None = None
        for point in series.points:
            rates = _rates(previous.at, point.at, previous, point) if previous else Rates()
            points.append(
                QueuePoint(
                    point.at,
                    point.messages,
                    rates.published_per_second,
                    rates.delivered_per_second,
                )
            )
            previous = point
        return points

    def start(self) -> None:
        """Sample now and every ``interval`` seconds on the running loop until closed."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _rates(
    start: float, end: float, before: _Totals | _QueueTotals, after: _Totals | _QueueTotals
) -> Rates:
    span = end - start
    if span <= 0:
        return Rates()
    return Rates(
        round(max(0, after.published - before.published) / span, 3),
        round(max(0, after.delivered - before.delivered) / span, 3),
    )
