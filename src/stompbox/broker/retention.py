"""Per-topic retention: positions on topic messages, and replay from them on SUBSCRIBE.

A topic whose name ``retain_topics`` covers keeps its last messages in a window bounded
by count, body bytes and age (``retain_messages``, ``retain_bytes``, ``retain_seconds``);
at most ``retain_max_topics`` topics keep one, the one published to least recently
giving way. Each retained message carries ``stompbox-seq:<epoch>-<n>``: ``n`` comes from
one counter for the whole broker, so it increases along every topic and a wildcard
subscription resumes from the one position it saw last; ``epoch`` is new with every
broker start, so that a position from a previous run is never taken for one of this run.

A SUBSCRIBE with ``resume-from:<seq>`` (the last seen) or ``since:<ms since the epoch>``
is first handed what the window holds after that position, in order, then live messages:
the broker has one owner, so nothing is published between the two. The first message
after a resume says ``stompbox-resume:ok``, or ``stompbox-resume:gap`` when the window no
longer reaches back to the position (or it is another run's): the client must resync.

With retention off (no ``retain_topics``) the broker holds no :class:`Retention` at all,
and the topic fan-out looks at one attribute per message.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from .config import BrokerConfig
from .errors import BrokerError
from .matching import TopicIndex, has_wildcard, split_destination
from .memory import MESSAGE_OVERHEAD, MemoryBudget
from .message import Message
from .session import Subscription

__all__ = ["RESUME_HEADER", "SEQ_HEADER", "Resume", "Retention", "parse_resume"]

SEQ_HEADER: Final = "stompbox-seq"
RESUME_HEADER: Final = "stompbox-resume"

_CACHE_LIMIT: Final = 10_000


class Resume(NamedTuple):
    """Where a SUBSCRIBE asked to resume: after ``seq`` of run ``epoch``, or from
    ``since`` (ms since the epoch)."""

    epoch: str | None
    seq: int
    since: float | None


def parse_resume(resume_from: str | None, since: str | None) -> Resume | None:
    """The position a SUBSCRIBE's ``resume-from`` or ``since`` names; None for neither.
    A malformed value is refused, naming it."""
    if resume_from is None and since is None:
        return None
    if resume_from is not None and since is not None:
        raise BrokerError("invalid resume", "a SUBSCRIBE may carry resume-from or since, not both")
    if resume_from is not None:
        epoch, _, number = resume_from.rpartition("-")
        if not epoch or not (number.isascii() and number.isdigit()) or len(number) > 18:
            raise BrokerError(
                "invalid resume-from",
                f"resume-from {resume_from!r} is not a stompbox-seq value (<epoch>-<number>, "
                "as the stompbox-seq header of the last message seen)",
            )
        return Resume(epoch, int(number), None)
    assert since is not None
    if not (since.isascii() and since.isdigit()) or len(since) > 18:
        raise BrokerError(
            "invalid since", f"since {since!r} is not a number of milliseconds since the epoch"
        )
    return Resume(None, 0, float(since))


class _Held(NamedTuple):
    seq: int
    at: float
    """Published at, in ms since the epoch."""
    message: Message


class Window:
    """What one topic keeps, and how far back it reaches."""

    __slots__ = ("bytes", "dropped_at", "dropped_seq", "held")

    def __init__(self, dropped_seq: int, dropped_at: float) -> None:
        self.held: deque[_Held] = deque()
        self.bytes = 0
        self.dropped_seq = dropped_seq
        """The last position of this topic no longer held (0: none ever dropped)."""
        self.dropped_at = dropped_at
        """When that message was published, ms (-1: none)."""


class Retention:
    """The retained topics' windows, bounded and charged to ``memory``."""

    def __init__(self, config: BrokerConfig, memory: MemoryBudget) -> None:
        self.epoch = secrets.token_hex(6)
        """New with every broker: 48 random bits, so that no restart takes another run's
        positions for its own."""
        self.memory = memory
        self.clock: Callable[[], float] = time.time
        """Seconds since the epoch, for ages and ``since``; tests set their own."""
        self.max_messages = config.retain_messages
        self.max_bytes = config.retain_bytes
        self.max_age = config.retain_seconds * 1000
        self.max_topics = config.retain_max_topics
        self._exact = frozenset(p for p in config.retain_topics if not p.endswith("*"))
        self._prefixes = tuple(p[:-1] for p in config.retain_topics if p.endswith("*"))
        self._covered: dict[str, bool] = {}
        self.windows: OrderedDict[str, Window] = OrderedDict()
        """By destination, the least recently published to first."""
        self.seq = 0
        self._evicted_seq = 0
        """The last position of any window given up for another topic."""
        self._evicted_at = -1.0
        self._swept = 0.0
        self.marks: dict[Subscription, str] = {}
        """Resumed subscriptions that have had no message yet: the first gets the mark."""

    def covers(self, destination: str) -> bool:
        """Whether ``destination`` is a retained topic."""
        covered = self._covered.get(destination)
        if covered is None:
            covered = destination in self._exact or destination.startswith(self._prefixes)
            if len(self._covered) >= _CACHE_LIMIT:
                self._covered.clear()
            self._covered[destination] = covered
        return covered

    def record(self, message: Message) -> bool:
        """Give a topic message its position and keep it, if its topic is retained;
        return whether it was. Runs before the message is encoded."""
        destination = message.destination
        if not self.covers(destination):
            return False
        now = self.clock() * 1000
        windows = self.windows
        window = windows.get(destination)
        if window is None:
            if len(windows) >= self.max_topics:
                self._evict(next(iter(windows)))
            window = windows[destination] = Window(self._evicted_seq, self._evicted_at)
        else:
            windows.move_to_end(destination)
            if window.held:
                window.held[-1].message.drop_encoding()  # sent; a replay encodes again
        self.seq += 1
        message.headers = (*message.headers, (SEQ_HEADER, f"{self.epoch}-{self.seq}"))
        size = len(message.body)
        window.held.append(_Held(self.seq, now, message))
        window.bytes += size
        self.memory.charge(size + MESSAGE_OVERHEAD)
        self._trim(window, now)
        if now - self._swept >= 1000:
            self.sweep(now)
        return True

    def _trim(self, window: Window, now: float) -> None:
        held = window.held
        oldest = now - self.max_age
        while held and (
            len(held) > self.max_messages or window.bytes > self.max_bytes or held[0].at < oldest
        ):
            self._drop(window, held.popleft())

    def _drop(self, window: Window, item: _Held) -> None:
        size = len(item.message.body)
        window.bytes -= size
        window.dropped_seq = item.seq
        window.dropped_at = item.at
        self.memory.release(size + MESSAGE_OVERHEAD)

    def _evict(self, destination: str) -> None:
        window = self.windows.pop(destination)
        while window.held:
            self._drop(window, window.held.popleft())
        if window.dropped_seq > self._evicted_seq:
            self._evicted_seq = window.dropped_seq
            self._evicted_at = window.dropped_at

    def sweep(self, now: float | None = None) -> None:
        """Drop what has aged out of every window: the broker's sweep does it every
        second, and a publish to a retained topic at most once a second, so that a topic
        nobody publishes to gives its memory back too."""
        if now is None:
            now = self.clock() * 1000
        self._swept = now
        for window in list(self.windows.values()):
            self._trim(window, now)

    def replay(self, destinations: Sequence[str], resume: Resume) -> tuple[list[Message], bool]:
        """The held messages of ``destinations`` after ``resume``, in publish order, and
        whether some after it are no longer held (a gap)."""
        now = self.clock() * 1000
        gap = False
        items: list[_Held] = []
        for destination in destinations:
            window = self.windows.get(destination)
            if window is None:
                dropped_seq, dropped_at = self._evicted_seq, self._evicted_at
            else:
                self._trim(window, now)
                dropped_seq, dropped_at = window.dropped_seq, window.dropped_at
            if resume.since is not None:
                gap = gap or dropped_at >= resume.since
                if window is not None:
                    items += [item for item in window.held if item.at >= resume.since]
                continue
            if resume.epoch != self.epoch:  # another run's: all it had is gone
                gap = True
                if window is not None:
                    items += window.held
                continue
            gap = gap or dropped_seq > resume.seq
            if window is not None:
                items += [item for item in window.held if item.seq > resume.seq]
        if len(destinations) > 1:
            items.sort(key=lambda item: item.seq)
        return [item.message for item in items], gap

    def check(self, resume: Resume) -> None:
        """Refuse a position of this run that was never given, before the subscription
        exists. A topic not retained is not refused: a client may hold a position from
        before ``retain_topics`` changed, and is told of the gap instead."""
        if resume.epoch == self.epoch and resume.seq > self.seq:
            raise BrokerError(
                "invalid resume-from",
                f"resume-from {resume.epoch}-{resume.seq} is past the last position given "
                f"({self.epoch}-{self.seq})",
            )

    def start(
        self,
        sub: Subscription,
        resume: Resume,
        separator: str,
        offer: Callable[[Subscription, Message], None],
    ) -> None:
        """Hand a new subscription what it missed, through ``offer`` (the broker's
        delivery of one topic message), the first marked; or mark its first live one."""
        if has_wildcard(split_destination(sub.destination, sub.prefix, separator)):
            index: TopicIndex[int] = TopicIndex(separator)
            index.add(sub.destination, sub.prefix, 0)
            destinations = [d for d in self.windows if index.match(d, sub.prefix)]
        elif self.covers(sub.destination):
            destinations = [sub.destination]
        else:  # nothing kept, maybe something missed
            self.marks[sub] = "gap"
            return
        messages, gap = self.replay(destinations, resume)
        mark = "gap" if gap else "ok"
        if not messages:
            self.marks[sub] = mark
            return
        offer(sub, _marked(messages[0], mark))
        for message in messages[1:]:
            offer(sub, message)
        for message in messages[:-1]:
            message.drop_encoding()

    def mark_first(
        self,
        message: Message,
        matched: list[Subscription],
        offer: Callable[[Subscription, Message], None],
    ) -> list[Subscription]:
        """Deliver a marked copy of a live message to the resumed subscriptions among
        ``matched`` still waiting for their first; return the others."""
        rest = []
        marks = self.marks
        for sub in matched:
            mark = marks.pop(sub, None)
            if mark is None:
                rest.append(sub)
            else:
                offer(sub, _marked(message, mark))
        return rest


def _marked(message: Message, mark: str) -> Message:
    """A copy of ``message`` that says how a resume went."""
    copy = Message(
        message.destination, message.id, (*message.headers, (RESUME_HEADER, mark)), message.body
    )
    copy.shown_destination = message.shown_destination
    return copy
