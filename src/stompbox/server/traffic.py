"""What the server counts as frames pass, for ``/metrics``: cheap enough for every frame.

Plain ints and a dict, no locks, nothing allocated per frame: the event loop is the only
writer, and Prometheus reads them at scrape time (:mod:`stompbox.server.metrics`). What the
broker or each connection already counts (deliveries, bytes of open connections) is not
counted again here. Latency is timed for one pass in :data:`SAMPLE_EVERY` over what a read
brought, since two clock reads per frame would cost more than the rest of this module.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from time import perf_counter
from typing import Final, TypeVar

from stompbox.broker import Session
from stompbox.protocol import CLIENT_COMMANDS, Frame, LimitExceeded, RemoteProtocolError

__all__ = [
    "ERROR_KINDS",
    "LATENCY_BOUNDS",
    "SAMPLE_EVERY",
    "Latency",
    "Traffic",
    "error_kind",
]

E = TypeVar("E")
Handler = Callable[[Session, Frame], object]

SAMPLE_EVERY: Final = 16
"""One pass in this many over a connection's input is timed (parse and dispatch)."""

LATENCY_BOUNDS: Final = (
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.025,
    0.1,
    1.0,
)
"""Upper bounds (seconds) of the latency buckets: a frame's dispatch takes microseconds,
a read of a few hundred pipelined frames a millisecond or more."""

ERROR_KINDS: Final = (
    "access denied",
    "authentication failed",
    "closed",
    "internal error",
    "invalid frame",
    "limit exceeded",
    "other",
    "protocol error",
    "slow consumer",
    "timeout",
)
"""What ERROR frames are counted by: a fixed set, so that no client can grow the label
values by the text it provokes."""

_KIND_OF: Final = {
    "access denied": "access denied",
    "unknown virtual host": "access denied",
    "authentication failed": "authentication failed",
    "server shutting down": "closed",
    "closed by an administrator": "closed",
    "internal error": "internal error",
    "queue full": "limit exceeded",
    "memory budget exceeded": "limit exceeded",
    "slow consumer": "slow consumer",
    "connect timeout": "timeout",
    "heart-beat timeout": "timeout",
    "frame timeout": "timeout",
}


def error_kind(message: str, cause: RemoteProtocolError | None = None) -> str:
    """The kind (one of :data:`ERROR_KINDS`) of an ERROR frame with this ``message``
    header, sent because of ``cause`` (a protocol error of the client's) if any."""
    if isinstance(cause, LimitExceeded):
        return "limit exceeded"
    if cause is not None:
        return "protocol error"
    kind = _KIND_OF.get(message)
    if kind is not None:
        return kind
    if message.endswith(" exceeded") and " limit of " in message:
        return "limit exceeded"  # max_subscriptions, max_connections ... limit of N exceeded
    if message.startswith(("unknown ", "invalid ", "duplicate ", "transaction")):
        return "invalid frame"  # a frame the broker refuses: unknown destination, ...
    return "other"


class Latency:
    """A histogram of durations in fixed buckets (:data:`LATENCY_BOUNDS`): a list of
    counts and a sum, exposed as Prometheus' cumulative buckets at scrape time."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BOUNDS) + 1)
        """Observations per bucket; the last one is past every bound (``+Inf``)."""
        self.total = 0.0
        """The sum of the observed seconds."""

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BOUNDS, seconds)] += 1
        self.total += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, observations up to it)`` for each bound and ``+Inf``."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip((*map(str, LATENCY_BOUNDS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class Traffic:
    """The frames of every session of one registry, counted as they pass.

    The sessions count what they receive and the ERRORs and CONNECTEDs they send; the
    registry adds each connection's byte and receipt counts here when it closes, so that
    totals are those of the open connections plus these.
    """

    __slots__ = (
        "_handlers",
        "_timed_handlers",
        "app_messages",
        "app_receipts",
        "closed_bytes_in",
        "closed_bytes_out",
        "closed_receipts",
        "connected",
        "dispatch",
        "errors",
        "frames_in",
        "parse",
        "passes",
    )

    def __init__(self) -> None:
        self.frames_in: dict[str, int] = dict.fromkeys(sorted(CLIENT_COMMANDS), 0)
        """Valid client frames received, by command."""
        self.connected = 0
        """CONNECTED frames sent."""
        self.app_messages = 0
        """MESSAGE frames an application wrote itself (a relayed broker's, a reply); the
        broker's own are its ``delivered`` count."""
        self.app_receipts = 0
        """RECEIPT frames an application wrote itself (a relayed broker's)."""
        self.errors: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
        """ERROR frames sent, by :func:`error_kind`."""
        self.closed_bytes_in = 0
        self.closed_bytes_out = 0
        self.closed_receipts = 0
        """What connections no longer open read, were handed, and were sent as RECEIPTs."""
        self.passes = 0
        """Passes over a connection's input: one per read, an EOF or an answered CONNECT."""
        self.parse = Latency()
        """Seconds the protocol took to turn one read into valid frames (sampled)."""
        self.dispatch = Latency()
        """Seconds a broker handler took for one frame (every frame of a sampled pass)."""
        self._handlers: Mapping[str, Handler] | None = None
        self._timed_handlers: dict[str, Handler] = {}

    def reading(
        self, events: Iterator[E], handlers: Mapping[str, Handler]
    ) -> tuple[Iterator[E], Mapping[str, Handler]]:
        """The events of one pass over a connection's input and the broker's handlers to
        carry them out: as given, or, once every :data:`SAMPLE_EVERY` passes, timed."""
        passes = self.passes = self.passes + 1
        if passes % SAMPLE_EVERY:
            return events, handlers
        if handlers is not self._handlers:  # the broker's dict is built once: so is this
            self._timed_handlers = {name: self._timed(h) for name, h in handlers.items()}
            self._handlers = handlers
        return self._timed_events(events), self._timed_handlers

    def _timed_events(self, events: Iterator[E]) -> Iterator[E]:
        """``events``, adding up the time spent producing them (parsing, validating) but
        not the time the caller spends on each (dispatching)."""
        spent = 0.0
        try:
            while True:
                began = perf_counter()
                try:
                    event = next(events)
                except StopIteration:
                    spent += perf_counter() - began
                    return
                spent += perf_counter() - began
                yield event
        finally:
            self.parse.observe(spent)

    def _timed(self, handler: Handler) -> Handler:
        dispatch = self.dispatch

        def timed(session: Session, frame: Frame) -> object:
            began = perf_counter()
            try:
                return handler(session, frame)
            finally:
                dispatch.observe(perf_counter() - began)

        return timed

    def error_sent(self, message: str, cause: RemoteProtocolError | None) -> None:
        """Count an ERROR frame (a connection's ``on_error``)."""
        self.errors[error_kind(message, cause)] += 1

    def connection_closed(self, bytes_in: int, bytes_out: int, receipts: int) -> None:
        """Keep the counts of a connection that is gone in the totals."""
        self.closed_bytes_in += bytes_in
        self.closed_bytes_out += bytes_out
        self.closed_receipts += receipts
