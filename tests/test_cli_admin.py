"""`stompbox status` and `stompbox queues` as subprocesses against a real `stompbox
serve`: what they print after known traffic, their JSON, and their errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from argon2 import PasswordHasher

from stompbox.security.passwords import hash_password

from .server.helpers import RawClient
from .server.test_admin_api import publish
from .server.test_management import serving
from .support import free_port, stompbox

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("STOMPBOX_USER", "STOMPBOX_PASSWORD")
    }
    return subprocess.run(
        stompbox(*args), capture_output=True, text=True, timeout=60, env=environment | (env or {})
    )


def test_status_and_queues_after_known_traffic() -> None:
    with serving() as (port, http, _):
        url = f"http://127.0.0.1:{http}"
        producer, consumer = RawClient(port), RawClient(port)
        producer.connect("1.2")
        consumer.connect("1.2")
        publish(producer, "/queue/orders", *(b"o" for _ in range(5)))
        consumer.send(b"SUBSCRIBE\nid:1\ndestination:/queue/held\nack:client\nreceipt:r\n\n\0")
        assert consumer.next_frame().command == "RECEIPT"
        publish(producer, "/queue/held", b"h1", b"h2")
        assert [consumer.next_frame().body for _ in range(2)] == [b"h1", b"h2"]

        status = run("status", "--url", url)
        assert status.returncode == 0, status.stderr
        lines = dict(line.split(":", 1) for line in status.stdout.splitlines())
        assert {
            name: value.strip()
            for name, value in lines.items()
            if name in ("ready", "connections", "sessions", "subscriptions", "queues")
        } == {
            "ready": "yes",
            "connections": "2",
            "sessions": "2",
            "subscriptions": "1",
            "queues": "2",
        }
        assert lines["messages"].strip().startswith("7 published, 2 delivered")

        table = run("queues", "--url", url)
        assert table.returncode == 0, table.stderr
        rows = [line.split() for line in table.stdout.splitlines()]
        assert rows == [
            ["NAME", "MESSAGES", "CONSUMERS", "UNACKED", "IN/S", "OUT/S"],
            ["/queue/held", "0", "1", "2", "0.0", "0.0"],
            ["/queue/orders", "5", "0", "0", "0.0", "0.0"],
        ]

        as_json = json.loads(run("queues", "--url", url, "--json").stdout)
        assert [(q["name"], q["messages"]) for q in as_json] == [
            ("/queue/held", 0),
            ("/queue/orders", 5),
        ]
        overview = json.loads(run("status", "--url", url, "--json").stdout)
        assert overview["connections"] == 2 and overview["ready"] == {
            "ready": True,
            "reason": None,
        }


def test_a_listener_that_cannot_be_reached_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for command in ("status", "queues"):
        result = run(command, "--url", url)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith(
            f"stompbox {command}: cannot reach the management listener at {url}: "
        )
        assert "Connection refused" in result.stderr
    result = run("status", "--url", "127.0.0.1:15672")
    assert result.returncode == 1 and result.stderr == (
        "stompbox status: --url must be an http:// or https:// URL, not '127.0.0.1:15672'\n"
    )


def test_credentials_from_options_or_the_environment(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text(
        f"ops:{hash_password('ops', hasher=CHEAP)}:management\n"
        f"ann:{hash_password('ann', hasher=CHEAP)}\n"
    )
    with serving("--users", str(users)) as (_, http, _):
        url = f"http://127.0.0.1:{http}"
        nobody = run("queues", "--url", url)
        assert nobody.returncode == 1
        assert nobody.stderr == (
            f"stompbox queues: {url} needs a user with the 'management' role (no user "
            "given (--user); --user/--password or $STOMPBOX_USER/$STOMPBOX_PASSWORD)\n"
        )
        ann = run("status", "--url", url, "--user", "ann", "--password", "ann")
        assert ann.returncode == 1 and "user 'ann'" in ann.stderr
        assert "needs a user with the 'management' role" in ann.stderr
        assert run("queues", "--url", url, "--user", "ops", "--password", "ops").returncode == 0
        from_env = run(
            "status", "--url", url, env={"STOMPBOX_USER": "ops", "STOMPBOX_PASSWORD": "ops"}
        )
        assert from_env.returncode == 0 and "ready:" in from_env.stdout
