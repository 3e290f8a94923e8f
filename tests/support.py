"""Small helpers shared by the tests that use real sockets and processes."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine
from typing import Any


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Wait until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    """Run an async test body on a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def stompbox(*args: str) -> list[str]:
    """The command line of the real ``stompbox`` executable, for subprocess tests."""
    return [sys.executable, "-m", "stompbox.cli", *args]


def run_stompbox(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``stompbox ARGS`` to its end; its exit status and output, as text."""
    return subprocess.run(stompbox(*args), capture_output=True, text=True, timeout=timeout)
