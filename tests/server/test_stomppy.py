"""The broker as stomp.py, the most used Python STOMP client, sees it."""

from __future__ import annotations

import time

import pytest

from stompbox.broker import BrokerConfig
from stompbox.security.config import SecurityConfig
from stompbox.security.passwords import hash_password
from stompbox.server import ServerConfig

from .helpers import ServerThread, stomp_client


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_queue_round_trip_each_version(server: ServerThread, version: str) -> None:
    conn, listener = stomp_client(server.port, version)
    if version == "1.0":
        conn.subscribe("/queue/a", ack="auto")
    else:
        conn.subscribe("/queue/a", id="s1", ack="auto")
    conn.send("/queue/a", "héllo", headers={"x-trace": "1"}, content_type="text/plain")
    message = listener.get()
    assert message.body == "héllo"
    assert message.headers["destination"] == "/queue/a"
    assert message.headers["x-trace"] == "1"
    assert "message-id" in message.headers
    conn.disconnect()


def test_topic_fan_out(server: ServerThread) -> None:
    clients = [stomp_client(server.port) for _ in range(3)]
    for i, (conn, _) in enumerate(clients):
        conn.subscribe("/topic/news", id=str(i), receipt=f"r{i}")
    for _, listener in clients:
        listener.receipts.get(timeout=5)
    producer, _ = stomp_client(server.port)
    producer.send("/topic/news", "extra")
    for _, listener in clients:
        assert listener.get().body == "extra"
    for conn, _ in [*clients, (producer, None)]:
        conn.disconnect()


def test_queue_round_robin(server: ServerThread) -> None:
    (a, la), (b, lb) = stomp_client(server.port), stomp_client(server.port)
    a.subscribe("/queue/work", id="1", receipt="ra")
    b.subscribe("/queue/work", id="1", receipt="rb")
    la.receipts.get(timeout=5)
    lb.receipts.get(timeout=5)
    producer, _ = stomp_client(server.port)
    for i in range(10):
        producer.send("/queue/work", str(i))
    got_a = sorted(int(la.get().body) for _ in range(5))
    got_b = sorted(int(lb.get().body) for _ in range(5))
    assert got_a == [0, 2, 4, 6, 8]
    assert got_b == [1, 3, 5, 7, 9]
    for conn in (a, b, producer):
        conn.disconnect()


def test_queue_buffers_until_a_consumer_subscribes(server: ServerThread) -> None:
    producer, _ = stomp_client(server.port)
    for i in range(3):
        producer.send("/queue/later", f"m{i}")
    producer.disconnect()
    consumer, listener = stomp_client(server.port)
    consumer.subscribe("/queue/later", id="1")
    assert [listener.get().body for _ in range(3)] == ["m0", "m1", "m2"]
    consumer.disconnect()


def test_subscribe_receipt_means_the_subscription_is_live(server: ServerThread) -> None:
    producer, _ = stomp_client(server.port)
    for attempt in range(20):
        consumer, listener = stomp_client(server.port)
        consumer.subscribe(f"/topic/live{attempt}", id="1", receipt="ready")
        assert listener.receipts.get(timeout=5) == "ready"
        producer.send(f"/topic/live{attempt}", "first")
        assert listener.get().body == "first"
        consumer.disconnect()
    producer.disconnect()


@pytest.mark.parametrize(
    ("separator", "pattern", "destinations", "expected"),
    [
        (
            "/",
            "/topic/a/*",
            ["/topic/a/b", "/topic/a/b/c", "/topic/a/d"],
            ["/topic/a/b", "/topic/a/d"],
        ),
        ("/", "/topic/a/#", ["/topic/a/b/c", "/topic/b"], ["/topic/a/b/c"]),
        (
            ".",
            "/topic/price.stock.*",
            ["/topic/price.stock.ibm", "/topic/price.bond.x"],
            ["/topic/price.stock.ibm"],
        ),
        (
            ".",
            "/topic/price.**",
            ["/topic/price.stock.ibm", "/topic/other"],
            ["/topic/price.stock.ibm"],
        ),
    ],
)
def test_wildcards(
    separator: str, pattern: str, destinations: list[str], expected: list[str]
) -> None:
    config = ServerConfig(port=0, ws_port=0, broker=BrokerConfig(separator=separator))
    with ServerThread(config) as server:
        conn, listener = stomp_client(server.port)
        conn.subscribe(pattern, id="1", receipt="r")
        listener.receipts.get(timeout=5)
        for destination in destinations:
            conn.send(destination, destination)
        got = [listener.get().body for _ in expected]
        assert got == expected
        assert listener.none_within(0.2)
        conn.disconnect()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_client_individual_ack_and_nack_redelivery(server: ServerThread, version: str) -> None:
    conn, listener = stomp_client(server.port, version)
    conn.subscribe("/queue/jobs", id="1", ack="client-individual")
    conn.send("/queue/jobs", "job")
    first = listener.get()
    ack_id = first.headers.get("ack", first.headers["message-id"])
    if version == "1.2":
        conn.nack(ack_id)
    else:
        conn.nack(first.headers["message-id"], "1")
    again = listener.get()
    assert again.body == "job"
    assert again.headers["redelivered"] == "true"
    assert again.headers["redelivery-count"] == "1"
    if version == "1.2":
        conn.ack(again.headers["ack"])
    else:
        conn.ack(again.headers["message-id"], "1")
    assert listener.none_within(0.2)
    conn.disconnect()


def test_client_ack_is_cumulative_and_unacked_come_back(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    conn.subscribe("/queue/c", id="1", ack="client")
    for i in range(4):
        conn.send("/queue/c", str(i))
    messages = [listener.get() for _ in range(4)]
    conn.ack(messages[1].headers["ack"], receipt="acked")
    listener.receipts.get(timeout=5)
    conn.disconnect()
    other, other_listener = stomp_client(server.port)
    other.subscribe("/queue/c", id="1")
    back = [other_listener.get() for _ in range(2)]
    assert [m.body for m in back] == ["2", "3"]
    assert all(m.headers["redelivered"] == "true" for m in back)
    other.disconnect()


def test_auto_ack_needs_no_ack(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    conn.subscribe("/queue/auto", id="1", ack="auto")
    conn.send("/queue/auto", "a")
    assert "ack" not in listener.get().headers
    conn.disconnect()
    other, other_listener = stomp_client(server.port)
    other.subscribe("/queue/auto", id="1")
    assert other_listener.none_within(0.2)
    other.disconnect()


def test_transaction_commit_and_abort(server: ServerThread) -> None:
    consumer, listener = stomp_client(server.port)
    consumer.subscribe("/queue/tx", id="1", receipt="r")
    listener.receipts.get(timeout=5)
    producer, _ = stomp_client(server.port)
    tx = producer.begin()
    producer.send("/queue/tx", "in-tx", transaction=tx)
    assert listener.none_within(0.2)
    producer.commit(tx)
    assert listener.get().body == "in-tx"
    tx2 = producer.begin()
    producer.send("/queue/tx", "aborted", transaction=tx2)
    producer.abort(tx2)
    producer.send("/queue/tx", "after")
    assert listener.get().body == "after"
    for conn in (consumer, producer):
        conn.disconnect()


def test_error_reaches_stomp_py_and_other_clients_carry_on(server: ServerThread) -> None:
    good, good_listener = stomp_client(server.port)
    good.subscribe("/topic/ok", id="1", receipt="r")
    good_listener.receipts.get(timeout=5)
    bad, bad_listener = stomp_client(server.port)
    bad.send("/nowhere/x", "lost", receipt="r1")
    error = bad_listener.errors.get(timeout=5)
    assert error.headers["message"] == "unknown destination"
    assert error.headers["receipt-id"] == "r1"
    assert bad_listener.disconnected.wait(5)
    producer, _ = stomp_client(server.port)
    producer.send("/topic/ok", "still here")
    assert good_listener.get().body == "still here"
    good.disconnect()
    producer.disconnect()


def test_disconnect_receipt(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    conn.disconnect(receipt="bye")
    assert listener.disconnected.wait(5)


def test_heartbeats_with_stomp_py() -> None:
    config = ServerConfig(port=0, ws_port=0, heartbeat=(200, 200), heartbeat_floor=100)
    with ServerThread(config) as server:
        conn, listener = stomp_client(server.port, heartbeats=(200, 200))
        time.sleep(1.0)  # several intervals: both sides keep the connection alive
        assert conn.is_connected()
        conn.subscribe("/queue/hb", id="1")
        conn.send("/queue/hb", "alive")
        assert listener.get().body == "alive"
        conn.disconnect()


def test_authentication() -> None:
    security = SecurityConfig(users={"alice": hash_password("secret")})
    config = ServerConfig(port=0, ws_port=0, security=security)
    with ServerThread(config) as server:
        conn, _ = stomp_client(server.port, username="alice", passcode="secret")
        assert conn.is_connected()
        conn.disconnect()
        import stomp

        bad = stomp.Connection12([("127.0.0.1", server.port)])
        listener_errors: list[str] = []

        class Errors(stomp.ConnectionListener):  # type: ignore[misc]
            def on_error(self, frame: object) -> None:
                listener_errors.append(frame.headers["message"])  # type: ignore[attr-defined]

        bad.set_listener("", Errors())
        with pytest.raises(stomp.exception.ConnectFailedException):
            bad.connect("alice", "wrong", wait=True)
        assert listener_errors == ["authentication failed"]
