"""Giving memory back to the operating system after a burst.

Freed message bodies go back to glibc's heap, which keeps them for reuse: after a burst
of a few hundred megabytes the broker's RSS would stay where the burst left it. When the
memory budget's figure has fallen far below its last high point, the broker drops its
caches (whose long-lived entries pin allocator arenas between dead messages), the cyclic
garbage of closed sessions is collected, and glibc is asked to return its free pages
(``malloc_trim``). Measured with 100,000 messages of 1 KiB queued to 1,000 queues and
drained: RSS went from 32 MiB to 223 MiB, and stayed at 237 MiB; with this, it comes
back to about 45 MiB, round after round.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

from stompbox.broker import Broker

__all__ = ["MemoryTrimmer"]

log = logging.getLogger("stompbox.server")


def _malloc_trim() -> Callable[[], None] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def trim_free_pages() -> None:
        trim(0)

    return trim_free_pages


class MemoryTrimmer:
    """Every ``interval`` seconds, trims when the broker holds ``threshold`` bytes less
    than at its high point since the last trim; and once more on the tick after a trim,
    for what the sessions that closed in between (the consumers that drained a burst,
    typically) leave behind."""

    def __init__(
        self, broker: Broker, *, interval: float = 5.0, threshold: int = 16 * 1024 * 1024
    ) -> None:
        self.broker = broker
        self.interval = interval
        self.threshold = threshold
        self.trims = 0
        self._trim = _malloc_trim()
        self._follow_up = False

    def check(self) -> bool:
        """Trim if the broker has freed enough since the last time; say whether it did."""
        memory = self.broker.memory
        if memory.high - memory.used >= self.threshold:
            self._follow_up = True
        elif self._follow_up:
            self._follow_up = False
        else:
            return False
        self.broker.forget_caches()
        gc.collect()  # closed sessions wait in cycles, and `serve` collects them rarely
        if self._trim is not None:
            self._trim()
        memory.high = memory.used
        self.trims += 1
        log.debug("memory trimmed (%s)", memory.describe())
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()
