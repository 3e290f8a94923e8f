"""`stompbox config --print`: the effective configuration, which serve reads back as
it is, with secrets left out."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from stompbox.server.config import ServerConfig

from .support import stompbox


def config_print(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        stompbox("config", "--print", *args), capture_output=True, text=True, timeout=30
    )


def test_the_printed_configuration_reads_back_as_the_same(tmp_path: Path) -> None:
    source = tmp_path / "in.toml"
    source.write_text("[server]\nport = 61999\n[broker]\nmax_redeliveries = 2\n")
    done = config_print("--config", str(source))
    assert done.returncode == 0, done.stderr
    assert "port = 61999" in done.stdout and "max_redeliveries = 2" in done.stdout
    assert "max_body_size = 16777216" in done.stdout  # a default, printed too
    printed = tmp_path / "out.toml"
    printed.write_text(done.stdout)
    again = ServerConfig.from_toml(printed)
    original = ServerConfig.from_toml(source)
    for field in dataclasses.fields(ServerConfig):
        assert getattr(again, field.name) == getattr(original, field.name), field.name


def test_secrets_are_not_printed(tmp_path: Path) -> None:
    source = tmp_path / "in.toml"
    secret = "s" * 40
    source.write_text(f'[security]\njwt_secret = "{secret}"\n')
    done = config_print("--config", str(source))
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout and "# jwt_secret is set (not printed)" in done.stdout


def test_a_bad_file_is_named() -> None:
    done = config_print("--config", "/nonexistent/stompbox.toml")
    assert done.returncode == 2 and "/nonexistent/stompbox.toml" in done.stderr
