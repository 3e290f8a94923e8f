"""The management listener of `stompbox serve` (RabbitMQ's 15672): health and readiness
probes and Prometheus metrics, scraped after known traffic, and who may read them."""

from __future__ import annotations

import base64
import contextlib
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from argon2 import PasswordHasher
from prometheus_client.parser import text_string_to_metric_families

from stompbox.security.passwords import hash_password

from ..support import free_port, stompbox, wait_for_port
from .helpers import RawClient

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@contextlib.contextmanager
def serving(*args: str) -> Iterator[tuple[int, int, list[str]]]:
    """A server's STOMP and management ports, and a list that holds its log once it
    has stopped."""
    port = http = free_port()
    while http == port:  # the system may offer one free port twice
        http = free_port()
    log: list[str] = []
    process = subprocess.Popen(
        stompbox("serve", "--port", str(port), "--ws-port", "0", "--http-port", str(http), *args),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        wait_for_port(http)
        yield port, http, log
    finally:
        process.send_signal(signal.SIGTERM)
        log.append(process.communicate(timeout=15)[1])


def get(http: int, path: str, auth: tuple[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{http}{path}")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_probes_and_exact_metrics_after_known_traffic() -> None:
    with serving() as (port, http, _):
        assert get(http, "/healthz") == (200, "ok\n")
        status, body = get(http, "/readyz")
        assert status == 200 and '"ready": true' in body
        publisher, consumer = RawClient(port), RawClient(port)
        publisher.connect("1.2")
        consumer.connect("1.2")
        for i in range(7):
            publisher.send(f"SEND\ndestination:/queue/metrics\n\nm{i}\0".encode())
        publisher.send(b"SEND\ndestination:/queue/metrics\nreceipt:r\n\nlast\0")
        assert publisher.next_frame().command == "RECEIPT"
        consumer.send(b"SUBSCRIBE\nid:1\ndestination:/queue/metrics\n\n\0")
        for _ in range(8):
            assert consumer.next_frame().command == "MESSAGE"
        publisher.send(b"SEND\ndestination:/queue/waiting\nreceipt:r2\n\nheld\0")
        assert publisher.next_frame().command == "RECEIPT"
        status, text = get(http, "/metrics")
        assert status == 200
        found = samples(text)
        assert found[("stompbox_messages_published_total", ())] == 9
        assert found[("stompbox_messages_delivered_total", ())] == 8
        assert found[("stompbox_connections", (("transport", "tcp"),))] == 2
        assert found[("stompbox_sessions", ())] == 2
        assert found[("stompbox_queue_messages", (("queue", "/queue/waiting"),))] == 1
        assert found[("stompbox_queue_consumers", (("queue", "/queue/metrics"),))] == 1
        assert found[("stompbox_memory_budget_bytes", ())] > 0
        assert get(http, "/nope")[0] == 404


def test_with_users_only_a_management_user_reads_metrics(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text(
        f"ops:{hash_password('ops', hasher=CHEAP)}:management\n"
        f"ann:{hash_password('ann', hasher=CHEAP)}\n"
    )
    with serving("--users", str(users)) as (_, http, _):
        assert get(http, "/healthz")[0] == 200  # a liveness probe needs no password
        assert get(http, "/metrics")[0] == 401
        assert get(http, "/metrics", ("ann", "ann"))[0] == 401  # no management role
        assert get(http, "/metrics", ("ops", "wrong"))[0] == 401
        assert get(http, "/metrics", ("ops", "ops"))[0] == 200
        assert get(http, "/readyz", ("ops", "ops"))[0] == 200


def test_not_ready_while_the_relayed_broker_is_away() -> None:
    with serving("--relay", "stomp://127.0.0.1:1") as (_, http, _):
        time.sleep(0.5)
        status, body = get(http, "/readyz")
        assert status == 503 and "relayed broker unavailable" in body
        assert "stompbox_ready 0.0" in get(http, "/metrics")[1]


def test_a_management_port_in_use_is_logged_and_the_broker_serves_on() -> None:
    with serving() as (_, http, _):
        port = free_port()
        process = subprocess.Popen(
            stompbox("serve", "--port", str(port), "--ws-port", "0", "--http-port", str(http)),
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_port(port)
            client = RawClient(port)
            assert client.connect("1.2").command == "CONNECTED"
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=15)
        assert process.returncode == 0
        assert f"management listener: cannot listen on 127.0.0.1:{http}" in err


def test_verified_credentials_are_remembered_briefly_and_failures_never(tmp_path: Path) -> None:
    """A console polls every few seconds: a verified pair is not hashed again for
    VERIFIED_FOR seconds; a wrong one is checked every time."""
    import asyncio

    import httpx

    from stompbox.broker import Broker
    from stompbox.security.config import SecurityConfig
    from stompbox.server import ServerConfig
    from stompbox.server.management import Management
    from stompbox.server.registry import SessionRegistry

    def basic(login: str, passcode: str) -> dict[str, str]:
        return {
            "authorization": "Basic " + base64.b64encode(f"{login}:{passcode}".encode()).decode()
        }

    async def main() -> None:
        users = tmp_path / "users.txt"
        users.write_text(f"ops:{hash_password('ops', hasher=CHEAP)}:management\n")
        config = ServerConfig(security=SecurityConfig(users_file=str(users)))
        registry = SessionRegistry(Broker(config.broker), config)
        management = Management(registry)
        gate = registry.gate
        checked = 0
        authenticate = gate.authenticate

        async def counting(*args: object) -> object:
            nonlocal checked
            checked += 1
            return await authenticate(*args)  # type: ignore[arg-type]

        gate.authenticate = counting  # type: ignore[method-assign,assignment]
        transport = httpx.ASGITransport(app=management)  # type: ignore[arg-type]
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://m") as http:
                for _ in range(3):
                    assert (
                        await http.get("/metrics", headers=basic("ops", "ops"))
                    ).status_code == 200
                assert checked == 1
                for _ in range(2):
                    wrong = await http.get("/metrics", headers=basic("ops", "nope"))
                    assert wrong.status_code == 401
                assert checked == 3
        finally:
            await management.admin.sampler.close()
            management.feed.close()

    asyncio.run(main())
