"""A real ``stompbox serve`` process for the chaos suite: its config file, its log, its
memory as the kernel counts it, and SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from ..support import free_port, stompbox

__all__ = ["FORBIDDEN_IN_LOG", "BrokerFailed", "BrokerProcess", "to_toml"]

FORBIDDEN_IN_LOG = ("internal error", "Traceback")
"""A log line with either means the server met something it did not handle."""


class BrokerFailed(AssertionError):
    """The broker did not start, or died; the message carries its log's tail."""


def to_toml(config: dict[str, dict[str, Any]]) -> str:
    """Sections of plain values as TOML (strings, numbers, booleans, lists, tables)."""
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"no TOML for {value!r}")


def _status(pid: int, field: str) -> float:
    """A ``kB`` line of /proc/<pid>/status, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


class BrokerProcess:
    """``stompbox serve --config FILE`` on free ports, logging to a file in ``directory``.

    ``config`` is TOML sections as dicts; ``[server]`` gets the ports and host."""

    def __init__(
        self, directory: Path, config: dict[str, dict[str, Any]], *, log_level: str = "info"
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.ws_port = free_port()
        self.config = {section: dict(values) for section, values in config.items()}
        server = self.config.setdefault("server", {})
        server.update(host="127.0.0.1", port=self.port, ws_port=self.ws_port)
        self.config_path = directory / "stompbox.toml"
        self.config_path.write_text(to_toml(self.config))
        self.log_path = directory / "stompbox.log"
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- life -------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> BrokerProcess:
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                stompbox("serve", "--config", str(self.config_path), "--log-level", self.log_level),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        for port in (self.port, self.ws_port):
            while True:
                if self.process.poll() is not None:
                    raise BrokerFailed(
                        f"stompbox serve exited with {self.process.returncode} before "
                        f"listening on {port}:\n{self.log_tail()}"
                    )
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise BrokerFailed(
                            f"stompbox serve not listening on {port} after {timeout} s:\n"
                            f"{self.log_tail()}"
                        ) from None
                    time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; SIGKILL if that takes too long. Returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    # -- what the kernel and the log say ----------------------------------------------

    def rss(self) -> float:
        """Resident memory now, MiB."""
        return _status(self.pid, "VmRSS")

    def peak(self) -> float:
        """The most resident memory this process has had, MiB (VmHWM)."""
        return _status(self.pid, "VmHWM")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def check_alive(self) -> None:
        if not self.alive():
            assert self.process is not None
            raise BrokerFailed(
                f"stompbox serve died with status {self.process.returncode}:\n{self.log_tail()}"
            )

    def check_log(self) -> None:
        """No "internal error", no Traceback."""
        text = self.log()
        for needle in FORBIDDEN_IN_LOG:
            at = text.find(needle)
            if at >= 0:
                start = text.rfind("\n", 0, max(0, at - 2000)) + 1
                raise BrokerFailed(f"{needle!r} in the broker's log:\n{text[start : at + 3000]}")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))
