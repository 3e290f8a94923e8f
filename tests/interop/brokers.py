"""Stopping and starting the real brokers under test, and counting connections to them.

For tests of what a client or the relay does when the broker goes away and comes back.
They need what `make services` sets up (scripts/activemq.sh, scripts/rabbitmq.sh) and the
rights to drive it (root, under CI). Each returns once the port is in its new state.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "ACTIVEMQ_STOMP_PORT",
    "RABBITMQ_STOMP_PORT",
    "Restart",
    "broker_connection_count",
    "restart_of",
    "start_activemq",
    "start_rabbitmq_stomp",
    "stop_activemq",
    "stop_rabbitmq_stomp",
]

ACTIVEMQ_STOMP_PORT = 61633  # scripts/activemq.sh's
RABBITMQ_STOMP_PORT = 61623  # scripts/rabbitmq.sh's

_ACTIVEMQ_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "activemq.sh"


def stop_activemq() -> None:
    """Stop ActiveMQ's JVM (SIGTERM, its shutdown hook closes every connection); returns
    once nothing answers on 61633, in about 2 s. Its queues are in memory: they are lost."""
    subprocess.run([str(_ACTIVEMQ_SCRIPT), "stop"], check=True, timeout=180)


def start_activemq() -> None:
    """Start ActiveMQ (installing it first if needed); returns once 61633 accepts, in
    about 2 s. Does nothing if it is already running."""
    subprocess.run([str(_ACTIVEMQ_SCRIPT), "start"], check=True, timeout=300)


def stop_rabbitmq_stomp() -> None:
    """Stop RabbitMQ's STOMP plugin alone: its STOMP connections close, 61623 refuses new
    ones; the node, its queues and Web-STOMP's listener on 15684 stay up."""
    _rabbitmqctl_eval("application:stop(rabbitmq_stomp).")

    def closed() -> bool:
        port = RABBITMQ_STOMP_PORT
        return not accepts(port) and broker_connection_count(port) == 0

    _wait_until(closed, f"RabbitMQ's STOMP listener on {RABBITMQ_STOMP_PORT} to close")


def start_rabbitmq_stomp() -> None:
    """Start RabbitMQ's STOMP plugin again; returns once 61623 accepts."""
    _rabbitmqctl_eval("application:start(rabbitmq_stomp).")
    _wait_until(
        lambda: accepts(RABBITMQ_STOMP_PORT),
        f"RabbitMQ's STOMP listener on {RABBITMQ_STOMP_PORT} to accept",
    )


def broker_connection_count(port: int, pid: int | None = None) -> int:
    """How many established TCP connections go to ``port`` on the loopback interface
    (127.0.0.1, or ::1), counted at the connecting end; with ``pid``, only those that
    process ``pid`` opened (a client, the relay's process; the broker's own pid gives 0).
    Read from /proc/net/tcp{,6}, as ``ss -tn`` does.
    """
    inodes = _socket_inodes(pid) if pid is not None else None
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)  # the column titles
                for line in lines:
                    fields = line.split()
                    remote, state, inode = fields[2], fields[3], fields[9]
                    address, _, remote_port = remote.partition(":")
                    if (
                        state == "01"  # TCP_ESTABLISHED
                        and int(remote_port, 16) == port
                        and address in _LOOPBACK
                        and (inodes is None or inode in inodes)
                    ):
                        count += 1
        except FileNotFoundError:  # no IPv6
            continue
    return count


# 127.0.0.1, ::ffff:127.0.0.1 and ::1 as /proc/net/tcp{,6} print them (32-bit words in
# the host's byte order, which is little-endian wherever this runs).
_LOOPBACK = frozenset(
    {
        "0100007F",
        "0000000000000000FFFF00000100007F",
        "00000000000000000000000001000000",
    }
)


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets that process ``pid`` holds open."""
    inodes: set[str] = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _rabbitmqctl_eval(expression: str) -> None:
    subprocess.run(
        ["rabbitmqctl", "eval", expression],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
    )


def accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.05)


class Restart(NamedTuple):
    """How to take one real broker away and bring it back, and its STOMP port."""

    stop: Callable[[], None]
    start: Callable[[], None]
    port: int


def restart_of(url: str) -> Restart:
    """The :class:`Restart` of the broker ``url`` names (by its port)."""
    if f":{RABBITMQ_STOMP_PORT}/" in url:
        return Restart(stop_rabbitmq_stomp, start_rabbitmq_stomp, RABBITMQ_STOMP_PORT)
    return Restart(stop_activemq, start_activemq, ACTIVEMQ_STOMP_PORT)
