"""``stompbox serve`` as a real process, for tests of what the command line sets up: its
ports, its log, a start that waits until the server has said what it trusts; and one with
a message store, to kill with SIGKILL and start again."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from ..support import free_port, stompbox, wait_for_port


class ServeProcess:
    """``stompbox serve --port P --ws-port W ARGS...`` (with ``--config`` when ``config``
    holds TOML), its log in a file of ``directory``.

    Ready once the log holds the start-up line that describes the security policy, which
    the server writes after every listener is up; no probe connection is made, so none
    counts against per-address limits.
    """

    def __init__(
        self, directory: Path, *args: str, config: str | None = None, ws: bool = False
    ) -> None:
        self.port = free_port()
        self.ws_port = free_port() if ws else 0
        command = ["serve", "--port", str(self.port), "--ws-port", str(self.ws_port), *args]
        if config is not None:
            config_file = directory / f"stompbox-{self.port}.toml"
            config_file.write_text(config)
            command += ["--config", str(config_file)]
        self.log_file = directory / f"serve-{self.port}.log"
        self._log = self.log_file.open("w")
        self.process = subprocess.Popen(
            stompbox(*command), stdout=self._log, stderr=subprocess.STDOUT
        )

    def __enter__(self) -> ServeProcess:
        try:
            self.wait_for_log("authentication: ")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_file.read_text()

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """Wait until the log holds ``text``; return the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if text in log:
                return log
            if self.process.poll() is not None:
                raise AssertionError(f"stompbox serve exited ({self.process.returncode}):\n{log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged within {timeout} s:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


class Served:
    """``stompbox serve`` with a message store: started, killed with SIGKILL, restarted."""

    def __init__(self, tmp_path: Path, broker: str = "") -> None:
        self.store = tmp_path / "messages.db"
        self.port = free_port()
        self.config = tmp_path / "stompbox.toml"
        self.config.write_text(
            f'[server]\nport = {self.port}\nws_port = 0\n\n[broker]\nstore = "{self.store}"\n'
            + broker
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
        self.process = subprocess.Popen(
            stompbox("serve", "--config", str(self.config), "--log-level", "warning"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL: no session closes, no final commit; only what was synced survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
