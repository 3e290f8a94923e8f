"""Durable topic subscriptions over real sockets (issue 17, item 1): stomp.py in
RabbitMQ's form and in ActiveMQ's, stompbox's own client, users, the queue limit, and a
``stompbox serve`` killed and restarted with a message store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stompbox
from stompbox.broker import BrokerConfig
from stompbox.server import ServerConfig

from ..support import run
from .helpers import Listener, ServerThread, stomp_client
from .serve_process import Served, ServeProcess
from .test_admin_api import call
from .test_management import serving
from .test_security import users_toml

RABBIT = {"durable": "true", "auto-delete": "false"}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    config = ServerConfig(port=0, ws_port=0, broker=BrokerConfig(queue_max_messages=3))
    with ServerThread(config) as running:
        yield running


def subscribed(
    conn: Any, listener: Listener, destination: str, sub_id: str, **headers: str
) -> None:
    conn.subscribe(destination, id=sub_id, headers={**headers, "receipt": f"sub-{sub_id}"})
    assert listener.receipts.get(timeout=5) == f"sub-{sub_id}"


def publish(port: int, destination: str, bodies: list[str], **headers: str) -> None:
    """Send each body with a receipt: every one was accepted."""
    producer, listener = stomp_client(port)
    for n, body in enumerate(bodies):
        producer.send(destination, body, headers={**headers, "receipt": f"p{n}"})
        assert listener.receipts.get(timeout=5) == f"p{n}"
    assert listener.errors.empty()
    producer.disconnect()


def test_rabbitmq_form_with_stomppy(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    subscribed(conn, listener, "/topic/rabbit", "news", **RABBIT)
    conn.disconnect()
    publish(server.port, "/topic/rabbit", ["1", "2", "3"])
    conn, listener = stomp_client(server.port)
    subscribed(conn, listener, "/topic/rabbit", "news", **RABBIT)
    got = [listener.get() for _ in range(3)]
    assert [m.body for m in got] == ["1", "2", "3"]
    assert {m.headers["destination"] for m in got} == {"/topic/rabbit"}
    assert {m.headers["subscription"] for m in got} == {"news"}
    conn.unsubscribe("news", headers={"durable": "true", "receipt": "gone"})
    assert listener.receipts.get(timeout=5) == "gone"
    publish(server.port, "/topic/rabbit", ["after removal"])
    subscribed(conn, listener, "/topic/rabbit", "news", **RABBIT)  # a new one, empty
    assert listener.none_within(0.3)
    conn.unsubscribe("news", headers={"durable": "true"})
    conn.disconnect()


def test_activemq_form_with_stomppy(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port, headers={"client-id": "app-1"})
    subscribed(conn, listener, "/topic/amq", "1", **{"activemq.subscriptionName": "s"})
    conn.disconnect()
    publish(server.port, "/topic/amq", ["a", "b"])
    conn, listener = stomp_client(server.port, headers={"client-id": "app-1"})
    conn.subscribe(
        "/topic/amq", id="2", ack="client-individual", headers={"activemq.subscriptionName": "s"}
    )
    got = [listener.get() for _ in range(2)]
    assert [(m.body, m.headers["subscription"]) for m in got] == [("a", "2"), ("b", "2")]
    for message in got:
        conn.ack(message.headers["ack"])
    conn.unsubscribe("2", headers={"activemq.subscriptionName": "s", "receipt": "gone"})
    assert listener.receipts.get(timeout=5) == "gone"
    assert server.broker is not None and server.broker.durable.bindings == {}
    conn.disconnect()


def test_activemq_form_without_client_id_gets_error(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    conn.subscribe("/topic/amq", id="1", headers={"activemq.subscriptionName": "s"})
    error = listener.errors.get(timeout=5)
    assert error.headers["message"] == "client-id required"
    assert "client-id" in error.body


def test_a_full_queue_drops_and_the_publisher_is_not_refused(server: ServerThread) -> None:
    assert server.broker is not None
    before = server.broker.stats.dropped_durable
    conn, listener = stomp_client(server.port)
    subscribed(conn, listener, "/topic/full", "f", **RABBIT)
    conn.disconnect()
    publish(server.port, "/topic/full", [str(n) for n in range(5)])  # every receipt came
    assert server.broker.stats.dropped_durable - before == 2  # queue_max_messages = 3
    conn, listener = stomp_client(server.port)
    subscribed(conn, listener, "/topic/full", "f", **RABBIT)
    assert [listener.get().body for _ in range(3)] == ["0", "1", "2"]
    assert listener.none_within(0.3)
    conn.unsubscribe("f", headers={"durable": "true"})
    conn.disconnect()


def test_with_the_stompbox_client(server: ServerThread) -> None:
    url = f"stomp://guest:guest@127.0.0.1:{server.port}/"

    async def main() -> None:
        async with (
            stompbox.connect(url, headers={"client-id": "mine"}) as client,
            client.subscribe("/topic/own", headers={"activemq.subscriptionName": "d"}),
        ):
            pass  # a plain UNSUBSCRIBE on exit: the subscription stays
        async with stompbox.connect(url) as producer:
            for n in range(3):
                await producer.send("/topic/own", f"m{n}", receipt=True)
        async with (
            stompbox.connect(url, headers={"client-id": "mine"}) as client,
            client.subscribe("/topic/own", headers={"activemq.subscriptionName": "d"}) as sub,
        ):
            got = [await sub.get(5) for _ in range(3)]
            assert [(m.text, m.destination) for m in got] == [
                ("m0", "/topic/own"),
                ("m1", "/topic/own"),
                ("m2", "/topic/own"),
            ]

    run(main())


def test_another_user_cannot_take_over(tmp_path: Path) -> None:
    with ServeProcess(tmp_path, config=users_toml("alice", "bob")) as serve:
        alice, heard = stomp_client(serve.port, username="alice", passcode="alice")
        subscribed(alice, heard, "/topic/private", "inbox", **RABBIT)
        alice.disconnect()
        bob, sent = stomp_client(serve.port, username="bob", passcode="bob")
        bob.send("/topic/private", "for alice", headers={"receipt": "sent"})
        assert sent.receipts.get(timeout=5) == "sent"  # published before bob subscribes
        mallory, stolen = stomp_client(serve.port, username="bob", passcode="bob")
        subscribed(mallory, stolen, "/topic/private", "inbox", **RABBIT)
        assert stolen.none_within(0.3)  # bob's own subscription of that name, empty
        mallory.unsubscribe("inbox", headers={"durable": "true"})
        alice, heard = stomp_client(serve.port, username="alice", passcode="alice")
        subscribed(alice, heard, "/topic/private", "inbox", **RABBIT)
        assert heard.get().body == "for alice"
        for conn in (alice, bob, mallory):
            conn.disconnect()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    server.start()
    yield server
    server.kill()


def test_durable_subscription_survives_a_restart(served: Served) -> None:
    conn, listener = stomp_client(served.port, headers={"client-id": "c"})
    subscribed(conn, listener, "/topic/kept", "1", **{"activemq.subscriptionName": "s"})
    conn.disconnect()
    publish(served.port, "/topic/kept", ["p1", "p2"], persistent="true")
    publish(served.port, "/topic/kept", ["transient"])
    served.kill()  # SIGKILL: only what was committed survives
    served.start()
    publish(served.port, "/topic/kept", ["after restart"])  # the binding is back
    conn, listener = stomp_client(served.port, headers={"client-id": "c"})
    subscribed(conn, listener, "/topic/kept", "1", **{"activemq.subscriptionName": "s"})
    got = [listener.get() for _ in range(3)]
    assert [m.body for m in got] == ["p1", "p2", "after restart"]
    assert {m.headers["destination"] for m in got} == {"/topic/kept"}
    assert listener.none_within(0.3)
    conn.disconnect()


def test_admin_api_lists_durable_subscriptions_and_marks_their_queues() -> None:
    with serving() as (port, http, _):
        away, listener = stomp_client(port, headers={"client-id": "app"})
        subscribed(away, listener, "/topic/a", "1", **{"activemq.subscriptionName": "gone"})
        away.disconnect()
        publish(port, "/topic/a", ["x", "y"])
        here, listener = stomp_client(port)
        subscribed(here, listener, "/topic/*", "live", **RABBIT)
        status, subscriptions = call(http, "/api/subscriptions")
        assert status == 200
        by_name = {s["durable"]["name"]: s for s in subscriptions}
        assert by_name["gone"]["session"] is None and by_name["gone"]["connection"] is None
        assert by_name["gone"]["destination"] == "/topic/a"
        gone = by_name["gone"]["durable"]
        assert (gone["client_id"], gone["user"], gone["messages"], gone["active"]) == (
            "app",
            None,
            2,
            False,
        )
        live = by_name["live"]
        assert (live["id"], live["destination"], live["durable"]["active"]) == (
            "live",
            "/topic/*",
            True,
        )
        assert live["session"] is not None and live["durable"]["client_id"] is None
        status, queues = call(http, "/api/queues")
        marked = {q["name"]: q["durable_subscription"] for q in queues}
        assert marked[gone["queue"]] == "gone" and marked[live["durable"]["queue"]] == "live"
        here.disconnect()
