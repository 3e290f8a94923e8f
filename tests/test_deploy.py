"""deploy/: the systemd unit passes ``systemd-analyze verify``, the example configuration
loads with the real loader, and the Dockerfile's facts (ports, user, health check, command
line) hold against the real server and CLI. The image itself is not built here: this
machine's docker has no daemon (deploy/README.md says how to build it)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from stompbox.cli import build_parser
from stompbox.security.passwords import UsersFile, hash_password
from stompbox.server.config import ServerConfig

from .support import free_port, stompbox, wait_for_port

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNIT = DEPLOY / "stompbox.service"
EXAMPLE = DEPLOY / "stompbox.toml"
DOCKERFILE = DEPLOY / "Dockerfile"


def unit_settings() -> dict[str, dict[str, list[str]]]:
    """The unit's sections, each key with its values in order (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def installed_stompbox() -> str:
    """The ``stompbox`` script installed beside this Python, as ExecStart wants a file."""
    beside = Path(sys.executable).parent / "stompbox"
    found = str(beside) if beside.exists() else shutil.which("stompbox")
    assert found is not None, "no stompbox script installed (pip install -e .)"
    return found


def verify(unit: Path) -> str:
    outcome = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return f"{outcome.stdout}{outcome.stderr}".strip() + ("" if outcome.returncode == 0 else "!")


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian's systemd package has it)",
)
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify wants ExecStart's file to exist: point it at the stompbox installed here
    text = UNIT.read_text()
    assert text.count("/opt/stompbox/bin/stompbox ") == 1
    unit = tmp_path / "stompbox.service"
    unit.write_text(text.replace("/opt/stompbox/bin/stompbox ", installed_stompbox() + " "))
    assert verify(unit) == ""  # no warning of any kind
    # and it does notice a mistake (verify exits 0 on an unknown key, but says so)
    unit.write_text(unit.read_text().replace("[Service]\n", "[Service]\nProtectSytem=strict\n"))
    assert "Unknown key 'ProtectSytem'" in verify(unit)


def test_unit_runs_serve_hardened_as_its_own_user() -> None:
    settings = unit_settings()
    service = settings["Service"]
    assert service["User"] == ["stompbox"] and service["Group"] == ["stompbox"]
    command = service["ExecStart"][0].split()
    assert command[0] == "/opt/stompbox/bin/stompbox"
    args = build_parser().parse_args(command[1:])
    assert args.command == "serve" and args.config == "/etc/stompbox/stompbox.toml"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "LimitNOFILE": "20000",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
    }.items():
        assert service[key] == [value], key
    # the example's store is in the one writable directory
    store = Path(tomllib.loads(EXAMPLE.read_text())["broker"]["store"])
    assert str(store.parent) in service["ReadWritePaths"]
    assert f"/var/lib/{service['StateDirectory'][0]}" == str(store.parent)
    # systemd waits for the drain before it kills
    grace = tomllib.loads(EXAMPLE.read_text())["server"]["shutdown_grace"]
    assert int(service["TimeoutStopSec"][0]) > grace
    assert settings["Install"]["WantedBy"] == ["multi-user.target"]


def test_example_config_loads(tmp_path: Path) -> None:
    # its users file and store directory exist on a server, not here: the same file with
    # those two paths moved to tmp_path, everything else as written
    users = UsersFile.from_hashes({"alice": hash_password("secret")})
    users.save(tmp_path / "users.txt")
    text = EXAMPLE.read_text()
    for path in ('"/etc/stompbox/users.txt"', '"/var/lib/stompbox/messages.db"'):
        assert text.count(path) == 1, path
    text = text.replace('"/etc/stompbox/users.txt"', json.dumps(str(tmp_path / "users.txt")))
    text = text.replace('"/var/lib/stompbox/', json.dumps(f"{tmp_path}/")[:-1])
    config_file = tmp_path / "stompbox.toml"
    config_file.write_text(text)
    config = ServerConfig.from_toml(config_file)
    assert config.host == "0.0.0.0"
    assert config.broker.store == str(tmp_path / "messages.db")
    assert config.security.users_file == str(tmp_path / "users.txt")
    assert config.security.acl  # logins required and rules: not an open broker
    printed = subprocess.run(
        stompbox("config", "--print", "--config", str(config_file)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert 'host = "0.0.0.0"' in printed.stdout


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def test_dockerfile_builds_the_wheel_in_one_stage_and_runs_it_in_another() -> None:
    froms = [rest for word, rest in dockerfile() if word == "FROM"]
    assert froms == ["python:3.12-slim AS build", "python:3.12-slim"]
    final = final_stage()
    assert ("COPY", "--from=build /dist/ /tmp/dist/") in final
    assert any(
        word == "RUN" and "pip install /tmp/dist/stompbox-*.whl" in rest for word, rest in final
    )


def test_dockerfile_runs_serve_on_every_interface_as_a_user() -> None:
    final = dict(final_stage())
    assert final["USER"] == "stompbox"
    assert "useradd --system --uid 10001" in final["RUN"] and final["RUN"].endswith(" stompbox")
    defaults = ServerConfig()
    ports = {int(port) for port in final["EXPOSE"].split()}
    assert ports == {defaults.port, defaults.ws_port, defaults.http_port}
    command = json.loads(final["CMD"])
    assert command[0] == "stompbox"
    args = build_parser().parse_args(command[1:])
    assert args.command == "serve" and args.host == "0.0.0.0"
    assert args.port is None and args.ws_port is None and args.http_port is None


def test_dockerfile_healthcheck_probes_the_management_listener() -> None:
    check = dict(final_stage())["HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert "--start-period=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"] and "curl" not in command
    probe = argv[2]
    assert "http://127.0.0.1:15672/healthz" in probe
    assert ServerConfig().http_port == 15672
    # the probe itself, against a real stompbox serve (on ports of its own)
    port, http_port = free_port(), free_port()
    probe = probe.replace(":15672/", f":{http_port}/")
    server = subprocess.Popen(
        stompbox("serve", "--port", str(port), "--ws-port", "0", "--http-port", str(http_port)),
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(http_port)
        healthy = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    down = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30)
    assert down.returncode != 0  # nothing listening: unhealthy
