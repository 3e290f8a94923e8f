"""`stompbox serve --relay` and `[relay]`: a bad setting stops the server with a message
naming it, before anything listens."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..support import run_stompbox


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return run_stompbox("serve", "--port", "0", "--ws-port", "0", *args)


def test_a_bad_relay_url_is_named() -> None:
    done = serve("--relay", "http://broker:61613")
    assert done.returncode == 2
    assert "--relay" in done.stderr and "unsupported URL scheme 'http'" in done.stderr


def test_a_bad_relay_setting_in_the_config_file_names_key_value_and_choices(
    tmp_path: Path,
) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[relay]\nbrokers = "stomp://127.0.0.1:1"\noutage = "drop"\n')
    done = serve("--config", str(config))
    assert done.returncode == 2
    assert "outage = 'drop'" in done.stderr and "hold, error" in done.stderr


def test_an_unknown_relay_setting_is_named(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[relay]\nbrokers = "stomp://127.0.0.1:1"\nreconect_interval = 1\n')
    done = serve("--config", str(config), "--relay", "stomp://127.0.0.1:2")
    assert done.returncode == 2
    assert "reconect_interval" in done.stderr and "reconnect_interval" in done.stderr
