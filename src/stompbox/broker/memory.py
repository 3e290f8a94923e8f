"""One memory budget for everything clients can make the broker hold.

Per-object limits (a queue's backlog, a transaction's frames, a frame's size) each bound
one thing, but a thousand queues or a thousand connections multiply them. The budget
adds up the bytes held on clients' behalf (queued, unacknowledged and pending messages,
open transactions, partial frames and output buffers) against one limit for the whole
process, as RabbitMQ's memory high watermark does. Crossing it is only a signal: the
server stops reading publishers until the broker drains below :attr:`resume_at`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = ["MESSAGE_OVERHEAD", "MemoryBudget", "default_memory_budget", "parse_size"]

MESSAGE_OVERHEAD: Final = 1024
"""Bytes a held message costs beyond its body (its objects, headers and container
slots), measured: 100,000 queued 1 KiB messages with three headers raised the RSS of
``stompbox serve`` by about 2 KiB each."""

_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_size(value: int | str, name: str = "size") -> int:
    """Bytes from an int or a string such as ``"256MiB"``, ``"1.5 GiB"`` or ``"64kB"``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number of bytes or a size like '256MiB'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{name} must not be negative, not {value}")
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is not None and match.group(2).lower() in _UNITS:
            return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    units = ", ".join(u for u in ("KiB", "MiB", "GiB", "kB", "MB", "GB"))
    raise ValueError(f"{name} must be a number of bytes or a size in {units}, not {value!r}")


def default_memory_budget() -> int:
    """Two fifths of the memory this process may use (RabbitMQ's default watermark):
    the machine's RAM, or the cgroup's limit when a container sets a lower one."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        total = 4 * 1024**3
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total * 2 // 5


class MemoryBudget:
    """Bytes held against ``limit``; :attr:`over` from past the limit until below
    :attr:`resume_at` (nine tenths of it), so that reading does not flap at the edge.

    Each function in :attr:`watchers` is called with the new value of :attr:`over` each
    time it flips: servers pause and resume publishers there. Charges are plain additions,
    cheap enough for every message.
    """

    __slots__ = ("limit", "over", "resume_at", "used", "watchers")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.resume_at = limit - limit // 10
        self.used = 0
        self.over = False
        self.watchers: list[Callable[[bool], None]] = []

    def charge(self, size: int) -> None:
        used = self.used = self.used + size
        if used > self.limit and not self.over:
            self._flip(True)

    def release(self, size: int) -> None:
        used = self.used = self.used - size
        if self.over and used < self.resume_at:
            self._flip(False)

    def adjust(self, old: int, new: int) -> None:
        """Replace a charge of ``old`` bytes by one of ``new`` (a buffer that changed)."""
        if new > old:
            self.charge(new - old)
        elif new < old:
            self.release(old - new)

    def _flip(self, over: bool) -> None:
        self.over = over
        for watcher in self.watchers:
            watcher(over)

    def describe(self) -> str:
        """The figures an ERROR or log line names."""
        return f"memory_budget={_human(self.limit)}, {_human(self.used)} in use"


def _human(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} B"
