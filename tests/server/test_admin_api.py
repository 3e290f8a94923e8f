"""The management listener's JSON API (/api/) over a real `stompbox serve`: exact
answers after known traffic, the operator's actions (purge, requeue, closing a
connection) seen by real clients, errors, credentials, and the OpenAPI document."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from openapi_spec_validator import validate

from stompbox.security.passwords import hash_password
from stompbox.server.admin import ROUTES
from stompbox.server.admin_openapi import OPENAPI

from .helpers import RawClient
from .test_management import serving

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
A = "/api/queues/%2Fqueue%2Fa"


def call(
    http: int,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    auth: tuple[str, str] | None = None,
) -> tuple[int, Any]:
    """The status and the decoded JSON (or text) of one request."""
    request = urllib.request.Request(f"http://127.0.0.1:{http}{path}", body, method=method)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, data = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode()


def publish(client: RawClient, destination: str, *bodies: bytes) -> None:
    """Send each body, the last with a receipt, and wait for it."""
    for i, body in enumerate(bodies):
        receipt = b"receipt:p\n" if i == len(bodies) - 1 else b""
        length = f"content-length:{len(body)}\n".encode()
        client.send(b"SEND\ndestination:" + destination.encode() + b"\n" + length + receipt)
        client.send(b"\n" + body + b"\0")
    assert client.next_frame().command == "RECEIPT"


def test_queues_browse_and_purge_after_known_traffic() -> None:
    with serving() as (port, http, _):
        producer = RawClient(port)
        producer.connect("1.2")
        publish(producer, "/queue/a", *(f"m{i}".encode() for i in range(5)))
        publish(producer, "/queue/b", b"\xff\x00binary")
        status, queues = call(http, "/api/queues")
        assert status == 200
        assert [q["name"] for q in queues] == ["/queue/a", "/queue/b"]
        assert {k: queues[0][k] for k in ("messages", "bytes", "consumers", "unacked")} == {
            "messages": 5,
            "bytes": 10,
            "consumers": 0,
            "unacked": 0,
        }
        assert (queues[0]["published"], queues[0]["delivered"]) == (5, 0)
        assert queues[0]["dead_letter"] is False
        status, one = call(http, A)
        assert status == 200 and one["messages"] == 5 and isinstance(one["history"], list)

        status, browsed = call(http, A + "/messages?limit=3")
        assert status == 200
        assert [m["body"] for m in browsed] == ["m0", "m1", "m2"]
        assert browsed[0]["encoding"] == "utf-8" and browsed[0]["size"] == 2
        assert browsed[0]["redelivered"] is False
        assert browsed[0]["headers"] == []  # the sender gave none of its own
        assert [m["body"] for m in call(http, A + "/messages")[1]] == [f"m{i}" for i in range(5)]
        [binary] = call(http, "/api/queues/%2Fqueue%2Fb/messages")[1]
        assert binary["encoding"] == "base64"
        assert base64.b64decode(binary["body"]) == b"\xff\x00binary"
        assert call(http, A)[1]["messages"] == 5  # browsing took nothing
        for bad in ("0", "501", "x", "-1"):
            status, answer = call(http, f"{A}/messages?limit={bad}")
            assert status == 400 and "limit must be a whole number from 1 to 500" in answer["error"]

        assert call(http, A + "/messages", "DELETE") == (200, {"purged": 5})
        assert call(http, A)[1]["messages"] == 0
        assert call(http, A + "/messages", "DELETE") == (200, {"purged": 0})
        consumer = RawClient(port)
        consumer.connect("1.2")
        consumer.send(b"SUBSCRIBE\nid:1\ndestination:/queue/a\nreceipt:s\n\n\0")
        assert consumer.next_frame().command == "RECEIPT"
        publish(producer, "/queue/a", b"after")
        frame = consumer.next_frame()
        assert frame.command == "MESSAGE" and frame.body == b"after"  # none of the purged


def test_connections_subscriptions_and_overview() -> None:
    with serving() as (port, http, _):
        producer, consumer = RawClient(port), RawClient(port)
        producer.connect("1.2")
        consumer.connect("1.1")
        consumer.send(
            b"SUBSCRIBE\nid:s1\ndestination:/queue/c\nack:client-individual\n"
            b"prefetch-count:10\nreceipt:r\n\n\0"
        )
        assert consumer.next_frame().command == "RECEIPT"
        publish(producer, "/queue/c", b"one", b"two")
        assert [consumer.next_frame().body for _ in range(2)] == [b"one", b"two"]
        idle = RawClient(port)  # connected to the socket, no CONNECT yet
        status, connections = call(http, "/api/connections")
        assert status == 200
        ids = [int(c["id"]) for c in connections]  # in the order they opened
        assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
        first, second, third = connections
        assert (first["version"], second["version"], third["version"]) == ("1.2", "1.1", None)
        assert (first["subscriptions"], second["subscriptions"]) == (0, 1)
        assert third["session"] is None and third["user"] is None
        assert {c["transport"] for c in connections} == {"tcp"}
        assert first["address"] == "127.0.0.1" and first["peer"].startswith("127.0.0.1:")
        assert first["bytes_in"] > 0 and second["bytes_out"] > 0 and first["age_seconds"] >= 0
        status, subscriptions = call(http, "/api/subscriptions")
        assert subscriptions == [
            {
                "connection": second["id"],
                "session": second["session"],
                "id": "s1",
                "destination": "/queue/c",
                "ack": "client-individual",
                "unacked": 2,
                "prefetch": 10,
            }
        ]
        [queue] = call(http, "/api/queues")[1]
        assert (queue["name"], queue["messages"], queue["consumers"]) == ("/queue/c", 0, 1)
        assert (queue["unacked"], queue["published"], queue["delivered"]) == (2, 2, 2)
        status, overview = call(http, "/api/overview")
        assert status == 200
        assert {k: overview[k] for k in ("connections", "sessions", "subscriptions", "queues")} == {
            "connections": 3,
            "sessions": 2,
            "subscriptions": 1,
            "queues": 1,
        }
        assert overview["messages"] == {
            "published": 2,
            "delivered": 2,
            "redelivered": 0,
            "dead_lettered": 0,
            "dropped_slow_consumer": 0,
        }
        assert set(overview["rates"]) == {"published_per_second", "delivered_per_second"}
        assert overview["memory"]["used_bytes"] > 0 and overview["memory"]["budget_bytes"] > 0
        assert overview["uptime_seconds"] > 0 and isinstance(overview["version"], str)
        idle.close()


def test_an_administrator_closes_one_connection() -> None:
    with serving() as (port, http, log):
        kept, closed = RawClient(port), RawClient(port)
        kept.connect("1.2")
        closed.connect("1.2")
        closed_peer = f"127.0.0.1:{closed.sock.getsockname()[1]}"
        first, second = (c["id"] for c in call(http, "/api/connections")[1])
        status, answer = call(
            http, f"/api/connections/{second}?reason=maintenance%20window", "DELETE"
        )
        assert status == 200 and answer["closed"] == second
        frame = closed.next_frame()
        assert frame.command == "ERROR"
        assert frame.get("message") == "closed by an administrator"
        assert frame.body == b"maintenance window"
        assert closed.closed_by_server()
        publish(kept, "/queue/still", b"here")  # the other connection is untouched
        closed.close()  # the server lingers for the client's close, then forgets it
        for _ in range(100):
            if [c["id"] for c in call(http, "/api/connections")[1]] == [first]:
                break
            time.sleep(0.05)
        assert [c["id"] for c in call(http, "/api/connections")[1]] == [first]
        status, answer = call(http, f"/api/connections/{second}", "DELETE")
        assert status == 404 and answer == {"error": f"no open connection {second}"}
        long = "x" * 1001
        assert call(http, f"/api/connections/{first}?reason={long}", "DELETE")[0] == 400
        publish(kept, "/queue/still", b"again")
    logged = f"WARNING stompbox.server: {closed_peer}: closed by an administrator"
    assert f"{logged}: maintenance window" in log[0]


def test_dead_letters_go_back_to_their_queue(tmp_path: Path) -> None:
    config = tmp_path / "stompbox.toml"
    config.write_text("[broker]\nmax_redeliveries = 0\n")
    with serving("--config", str(config)) as (port, http, _):
        producer, consumer = RawClient(port), RawClient(port)
        producer.connect("1.2")
        consumer.connect("1.2")
        publish(producer, "/queue/work", b"w0", b"w1", b"w2")
        consumer.send(b"SUBSCRIBE\nid:1\ndestination:/queue/work\nack:client-individual\n\n\0")
        for _ in range(3):  # each NACK is past the limit of 0 redeliveries
            message = consumer.next_frame()
            consumer.send(b"NACK\nid:" + (message.get("ack") or "").encode() + b"\n\n\0")
        dlq = "/api/queues/%2Fqueue%2FDLQ.work"
        for _ in range(100):  # the NACKs are handled in order, after the last MESSAGE
            if call(http, dlq)[0] == 200 and call(http, dlq)[1]["messages"] == 3:
                break
        status, queue = call(http, dlq)
        assert (status, queue["messages"], queue["dead_letter"]) == (200, 3, True)
        assert call(http, "/api/overview")[1]["messages"]["dead_lettered"] == 3
        headers = call(http, dlq + "/messages")[1][0]["headers"]
        assert ["original-destination", "/queue/work"] in headers

        status, answer = call(http, "/api/queues/%2Fqueue%2Fwork/requeue", "POST")
        assert status == 400 and "not a dead-letter queue" in answer["error"]
        for body, error in (
            (b"[1]", "must be a JSON object"),
            (b"{", "not JSON"),
            (b'{"limit": 0}', "'limit' must be a whole number"),
            (b'{"limit": true}', "'limit' must be a whole number"),
            (b'{"to": 5}', "'to' must be a destination"),
            (b'{"to": "/nowhere/x"}', "not under a configured prefix"),
            (b'{"to": "/queue/DLQ.work"}', "the queue the messages are in"),
            (b'{"bogus": 1}', "unknown key(s) ['bogus']"),
        ):
            status, answer = call(http, dlq + "/requeue", "POST", body)
            assert status == 400 and error in answer["error"], (body, answer)
        assert call(http, dlq)[1]["messages"] == 3  # nothing moved by a refused request

        assert call(http, dlq + "/requeue", "POST", b'{"limit": 2}') == (200, {"moved": 2})
        again = [consumer.next_frame() for _ in range(2)]
        assert [m.body for m in again] == [b"w0", b"w1"]  # in order, to the waiting consumer
        assert all(m.get("destination") == "/queue/work" for m in again)
        assert all(m.get("redelivered") is None for m in again)  # a fresh count
        assert call(http, dlq)[1]["messages"] == 1
        answer = call(http, dlq + "/requeue", "POST", b'{"to": "/queue/elsewhere"}')
        assert answer == (200, {"moved": 1})
        [moved] = call(http, "/api/queues/%2Fqueue%2Felsewhere/messages")[1]
        assert moved["body"] == "w2"
        assert not any(name == "original-destination" for name, _ in moved["headers"])
        assert call(http, dlq)[1]["messages"] == 0


def test_unknown_queues_routes_and_methods_are_json_errors() -> None:
    with serving() as (_, http, _):
        for path, method in ((A, "GET"), (A + "/messages", "GET"), (A + "/messages", "DELETE")):
            assert call(http, path, method) == (404, {"error": "no queue /queue/a"})
        assert call(http, A + "/requeue", "POST")[0] == 404
        status, answer = call(http, "/api/nope")
        assert status == 404 and "no such route: /api/nope" in answer["error"]
        status, answer = call(http, "/api/queues//queue/a")
        assert status == 404 and "one percent-encoded segment" in answer["error"]
        status, answer = call(http, "/api/queues", "PUT")
        assert status == 405 and answer["error"].endswith("allowed: GET")
        status, answer = call(http, "/api/queues/%2Fqueue%2Fa/messages", "POST")
        assert status == 405 and answer["error"].endswith("allowed: GET, DELETE")
        big = b"{" + b" " * 20_000 + b"}"
        status, answer = call(http, A + "/requeue", "POST", big)
        assert status == 400 and "larger than" in answer["error"]


def test_with_users_only_a_management_user_uses_the_api(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text(
        f"ops:{hash_password('ops', hasher=CHEAP)}:management\n"
        f"ann:{hash_password('ann', hasher=CHEAP)}\n"
    )
    with serving("--users", str(users)) as (port, http, _):
        assert call(http, "/api/overview")[0] == 401
        assert call(http, "/api/overview", auth=("ann", "ann"))[0] == 401
        assert call(http, "/api/connections/1", "DELETE", auth=("ann", "ann"))[0] == 401
        assert call(http, "/api/queues", "PUT")[0] == 401  # credentials before anything
        client = RawClient(port)
        client.send(b"CONNECT\naccept-version:1.2\nhost:x\nlogin:ann\npasscode:ann\n\n\0")
        assert client.next_frame().command == "CONNECTED"
        status, [connection] = call(http, "/api/connections", auth=("ops", "ops"))
        assert status == 200 and connection["user"] == "ann"


def test_the_openapi_document_names_every_route_and_is_valid() -> None:
    validate(OPENAPI)
    documented = {
        (method.upper(), path)
        for path, item in OPENAPI["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert documented == {(route.method, route.path) for route in ROUTES}
    with serving() as (_, http, _):
        assert call(http, "/api/openapi.json") == (200, json.loads(json.dumps(OPENAPI)))
        for route in ROUTES:  # each answers from its handler, not "no such route"
            path = route.path.replace("{name}", "%2Fqueue%2Fz").replace("{id}", "9")
            status, answer = call(http, path, route.method)
            assert status in (200, 400, 404), route
            assert status == 200 or "no such route" not in answer["error"], route


@pytest.mark.parametrize("path", ["/api/overview", "/api/queues"])
def test_answers_are_not_cached(path: str) -> None:
    with serving() as (_, http, _):
        request = urllib.request.Request(f"http://127.0.0.1:{http}{path}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["content-type"] == "application/json"
            assert answer.headers["cache-control"] == "no-store"


def test_purged_and_moved_messages_stay_so_across_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "stompbox.toml"
    store = tmp_path / "messages.db"
    config.write_text(f'[broker]\nmax_redeliveries = 0\nstore = "{store}"\n')
    with serving("--config", str(config)) as (port, http, _):
        producer, consumer = RawClient(port), RawClient(port)
        producer.connect("1.2")
        consumer.connect("1.2")
        for destination, bodies in (
            ("/queue/p", (b"p0", b"p1", b"p2")),
            ("/queue/w", (b"w0", b"w1")),
        ):
            for body in bodies:
                producer.send(
                    b"SEND\ndestination:"
                    + destination.encode()
                    + b"\npersistent:true\nreceipt:r\n\n"
                    + body
                    + b"\0"
                )
                assert producer.next_frame().command == "RECEIPT"
        consumer.send(b"SUBSCRIBE\nid:1\ndestination:/queue/w\nack:client-individual\n\n\0")
        for _ in range(2):
            message = consumer.next_frame()
            consumer.send(b"NACK\nid:" + (message.get("ack") or "").encode() + b"\n\n\0")
        consumer.send(b"DISCONNECT\nreceipt:bye\n\n\0")
        assert consumer.next_frame().command == "RECEIPT"
        assert call(http, "/api/queues/%2Fqueue%2Fp/messages", "DELETE") == (200, {"purged": 3})
        answer = call(
            http, "/api/queues/%2Fqueue%2FDLQ.w/requeue", "POST", b'{"to": "/queue/back"}'
        )
        assert answer == (200, {"moved": 2})
    with serving("--config", str(config)) as (_, http, _):
        assert call(http, "/api/queues/%2Fqueue%2Fp")[0] == 404
        assert call(http, "/api/queues/%2Fqueue%2FDLQ.w")[0] == 404
        back = call(http, "/api/queues/%2Fqueue%2Fback/messages")[1]
        assert [m["body"] for m in back] == ["w0", "w1"]
        assert ["persistent", "true"] in back[0]["headers"]
