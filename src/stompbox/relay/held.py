"""Frames waiting for the broker while it is away (or not connected yet), in order, with
what they would take on the wire: the system session's and each client relay's."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from stompbox.protocol import Frame, serialize

__all__ = ["Held"]


class Held:
    """Frames held in order, and their size (what ``outage_buffer`` bounds)."""

    def __init__(self) -> None:
        self._frames: deque[Frame] = deque()
        self.size = 0

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, frame: Frame, limit: int | None = None) -> bool:
        """Hold ``frame`` after the others; with ``limit``, only if the held frames then
        take at most that many bytes (False: not held)."""
        size = len(serialize(frame, "1.2"))
        if limit is not None and self.size + size > limit:
            return False
        self._frames.append(frame)
        self.size += size
        return True

    def put_back(self, frames: Iterable[Frame]) -> None:
        """Hold ``frames`` before the others, in their order (what a lost connection had
        not confirmed); they were accepted already, so no limit applies."""
        frames = list(frames)
        self._frames.extendleft(reversed(frames))
        self.size += sum(len(serialize(frame, "1.2")) for frame in frames)

    def take(self) -> list[Frame]:
        """Every held frame, in order; none is held after."""
        frames = list(self._frames)
        self._frames.clear()
        self.size = 0
        return frames
