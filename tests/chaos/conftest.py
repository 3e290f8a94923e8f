"""The chaos suite's fixtures: real ``stompbox serve`` processes, and the scale to run at.

Every test starts its own broker (``broker_factory``), drives it with raw clients
(:mod:`.wire`), and measures it from /proc (:mod:`.process`). At the end each broker must
still be alive, stop with status 0 on SIGTERM, and have logged no "internal error" nor
Traceback.

The figures are bounded by default, which is what ``scripts/check`` and CI run (about
two minutes on two cores); ``CHAOS_SCALE=full`` runs the issue's:

    CHAOS_SCALE=full .venv/bin/python -m pytest tests/chaos -s
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .process import BrokerFailed, BrokerProcess
from .wire import StompClient

T = TypeVar("T")

FULL = os.environ.get("CHAOS_SCALE", "").lower() in ("full", "1", "yes", "true")

MEMORY_BUDGET = "256MiB"
RSS_CEILING = 400.0
"""MiB the broker may reach under any scenario with ``memory_budget = "256MiB"``."""


def scale(bounded: int, full: int) -> int:
    """The bounded figure in CI, the issue's with ``CHAOS_SCALE=full``."""
    return full if FULL else bounded


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run a test body on a fresh event loop, bounded in time; whatever clients it leaves
    open are closed before the loop ends, pass or fail."""

    async def bounded() -> T:
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            await StompClient.close_all()

    return asyncio.run(bounded())


BrokerFactory = Callable[..., BrokerProcess]


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Start brokers with ``factory(config_sections, log_level=...)``; each is checked at
    the end: alive (unless the test killed it), and nothing unhandled in its log."""
    started: list[BrokerProcess] = []

    def factory(config: dict[str, dict[str, Any]], **kwargs: Any) -> BrokerProcess:
        directory = tmp_path / f"broker{len(started)}"
        directory.mkdir()
        broker = BrokerProcess(directory, config, **kwargs)
        started.append(broker)
        return broker.start()

    yield factory
    exits = [broker.stop() for broker in started]
    for broker, status in zip(started, exits, strict=True):
        broker.check_log()
        if status != 0:
            raise BrokerFailed(
                f"stompbox serve exited with {status} on SIGTERM (0 expected):\n{broker.log_tail()}"
            )
