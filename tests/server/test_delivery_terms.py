"""Message priority and expiry (issue 17) as stomp.py sees them over a real socket:
priority order with FIFO within a level and NACK back to the head of its level; both
expiry headers, the queue TTL, dead-lettering of expired messages, the sweep of a queue
nobody consumes, held topic messages; and the ERROR a bad value gets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from stompbox.broker import BrokerConfig
from stompbox.server import ServerConfig
from stompbox.server.asgi import StompASGI

from ..support import run
from .helpers import Listener, RawClient, ServerThread, stomp_client
from .test_management import get, samples, serving


@pytest.fixture
def dlq_server() -> Iterator[ServerThread]:
    broker = BrokerConfig(queue_ttl={"/queue/short": 300, "/queue/ttl.*": 300})
    broker.dead_letter_expired = True
    with ServerThread(ServerConfig(port=0, ws_port=0, broker=broker)) as running:
        yield running


def now_ms() -> int:
    return int(time.time() * 1000)


def sent(conn: Any, listener: Listener, destination: str, body: str, **headers: str) -> None:
    """Send and wait for the RECEIPT, so that the broker holds it before we go on."""
    conn.send(destination, body, headers={**headers, "receipt": body})
    assert listener.receipts.get(timeout=5) == body


def bodies(listener: Listener, count: int) -> list[str]:
    return [listener.get().body for _ in range(count)]


def test_priority_orders_waiting_messages_fifo_within_a_level(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    for body, priority in [("m1", "4"), ("h1", "9"), ("l1", "0"), ("h2", "9"), ("m2", None)]:
        extra = {"priority": priority} if priority is not None else {}
        sent(conn, listener, "/queue/prio", body, **extra)
    sent(conn, listener, "/queue/prio", "l2", priority="0")
    sent(conn, listener, "/queue/prio", "h3", priority="9")
    conn.subscribe("/queue/prio", id="1")
    assert bodies(listener, 7) == ["h1", "h2", "h3", "m1", "m2", "l1", "l2"]
    conn.disconnect()


def test_nack_returns_a_message_to_the_head_of_its_own_level(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    for body, priority in [("m1", "4"), ("m2", "4"), ("h1", "9"), ("l1", "1")]:
        sent(conn, listener, "/queue/nack", body, priority=priority)
    conn.subscribe("/queue/nack", id="1", ack="client-individual", headers={"prefetch-count": "1"})
    first = listener.get()
    assert first.body == "h1"
    conn.nack(first.headers["ack"])  # back to the head of level 9: comes again first
    again = listener.get()
    assert (again.body, again.headers["redelivered"]) == ("h1", "true")
    conn.ack(again.headers["ack"])
    m1 = listener.get()
    assert m1.body == "m1"
    sent(conn, listener, "/queue/nack", "h2", priority="9")  # waits: m1 is unacked
    conn.nack(m1.headers["ack"])  # m1 to the head of level 4, behind h2 of level 9
    order = []
    for _ in range(4):
        message = listener.get()
        order.append(message.body)
        conn.ack(message.headers["ack"])
    assert order == ["h2", "m1", "m2", "l1"]
    conn.disconnect()


@pytest.mark.parametrize("value", ["256", "-1", "high", "4.5", ""])
def test_a_bad_priority_gets_an_error_naming_the_header_and_range(
    server: ServerThread, value: str
) -> None:
    conn, listener = stomp_client(server.port)
    conn.send("/queue/bad", "x", headers={"priority": value})
    error = listener.errors.get(timeout=5)
    assert error.headers["message"] == "invalid priority header"
    assert "from 0 to 9" in error.body and repr(value) in error.body


@pytest.mark.parametrize("header", ["expires", "expiration"])
def test_a_bad_expiry_value_gets_an_error_naming_the_header(
    server: ServerThread, header: str
) -> None:
    conn, listener = stomp_client(server.port)
    conn.send("/queue/bad", "x", headers={header: "soon"})
    error = listener.errors.get(timeout=5)
    assert error.headers["message"] == f"invalid {header} header"
    assert "'soon'" in error.body


def test_a_bad_value_in_a_transaction_is_refused_at_send_not_commit(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    conn.begin("t1")
    conn.send("/queue/bad", "x", headers={"priority": "high"}, transaction="t1")
    assert listener.errors.get(timeout=5).headers["message"] == "invalid priority header"


def test_both_expiry_headers_expire_waiting_messages(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    sent(conn, listener, "/queue/exp", "relative", expiration="200")
    sent(conn, listener, "/queue/exp", "absolute", expires=str(now_ms() + 200))
    sent(conn, listener, "/queue/exp", "never", expires="0")  # JMS: 0 is no expiry
    sent(conn, listener, "/queue/exp", "later", expiration="60000")
    sent(conn, listener, "/queue/exp", "past", expires=str(now_ms() - 1000))
    time.sleep(0.4)
    conn.subscribe("/queue/exp", id="1")
    assert bodies(listener, 2) == ["never", "later"]
    assert listener.none_within(0.3)
    assert server.broker is not None and server.broker.stats.expired == 3
    conn.disconnect()


def test_a_message_that_has_not_expired_is_delivered_with_its_headers(
    server: ServerThread,
) -> None:
    conn, listener = stomp_client(server.port)
    conn.subscribe("/queue/live", id="1", receipt="s")
    assert listener.receipts.get(timeout=5) == "s"
    deadline = str(now_ms() + 60_000)
    conn.send("/queue/live", "x", headers={"expires": deadline, "priority": "7"})
    message = listener.get()
    assert (message.headers["expires"], message.headers["priority"]) == (deadline, "7")
    conn.disconnect()


def test_queue_ttl_and_dead_letter_of_expired_messages(dlq_server: ServerThread) -> None:
    conn, listener = stomp_client(dlq_server.port)
    sent(conn, listener, "/queue/short", "ttl", **{"x-trace": "7"})
    sent(conn, listener, "/queue/ttl.a", "pattern")
    sent(conn, listener, "/queue/short", "longer", expiration="60000")  # the TTL wins
    sent(conn, listener, "/queue/other", "kept")
    time.sleep(0.5)
    conn.subscribe("/queue/short", id="1")
    conn.subscribe("/queue/ttl.a", id="2")
    conn.subscribe("/queue/other", id="3")
    assert bodies(listener, 1) == ["kept"]
    assert listener.none_within(0.3)
    conn.subscribe("/queue/DLQ.short", id="4")
    conn.subscribe("/queue/DLQ.ttl.a", id="5")
    dead = sorted((listener.get() for _ in range(3)), key=lambda m: str(m.body))
    assert [m.body for m in dead] == ["longer", "pattern", "ttl"]
    ttl = dead[2]
    assert ttl.headers["dead-letter-reason"] == "expired"
    assert ttl.headers["original-destination"] == "/queue/short"
    assert ttl.headers["x-trace"] == "7"
    conn.disconnect()


def test_a_sender_cannot_forge_the_dead_letter_reason(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    sent(conn, listener, "/queue/forged", "x", **{"dead-letter-reason": "expired"})
    conn.subscribe("/queue/forged", id="1")
    assert "dead-letter-reason" not in listener.get().headers
    conn.disconnect()


def test_a_queue_nobody_consumes_is_swept_of_expired_messages(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    sent(conn, listener, "/queue/idle", "a", expiration="100")
    sent(conn, listener, "/queue/idle", "b")  # no deadline: stays
    sent(conn, listener, "/queue/idle", "c", expiration="100")  # behind one without
    broker = server.broker
    assert broker is not None and broker.queue_depth("/queue/idle") == 3
    until = time.monotonic() + 10
    while broker.queue_depth("/queue/idle") != 1 and time.monotonic() < until:
        time.sleep(0.1)
    assert broker.queue_depth("/queue/idle") == 1
    assert broker.stats.expired == 2
    conn.disconnect()


def test_a_held_topic_message_is_not_delivered_after_it_expires(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    conn.subscribe("/topic/t", id="1", ack="client", headers={"prefetch-count": "1"}, receipt="s")
    assert listener.receipts.get(timeout=5) == "s"
    sent(conn, listener, "/topic/t", "first")
    sent(conn, listener, "/topic/t", "stale", expiration="100")  # held: no room
    sent(conn, listener, "/topic/t", "fresh")
    first = listener.get()
    assert first.body == "first"
    time.sleep(0.3)
    conn.ack(first.headers["ack"])
    assert listener.get().body == "fresh"
    assert server.broker is not None and server.broker.stats.expired == 1
    conn.disconnect()


def test_expired_messages_are_counted_in_metrics() -> None:
    with serving() as (port, http, _):
        client = RawClient(port)
        client.connect()
        past = now_ms() - 1
        client.send(f"SEND\ndestination:/queue/m\nexpires:{past}\nreceipt:r\n\nx\0".encode())
        assert client.next_frame().get("receipt-id") == "r"
        client.send(b"SEND\ndestination:/queue/m\nexpiration:0\nreceipt:s\n\ny\0")
        assert client.next_frame().get("receipt-id") == "s"  # now or never: nobody is there
        found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        until = time.monotonic() + 10
        while found.get(("stompbox_messages_expired_total", ())) != 2:
            assert time.monotonic() < until, found
            time.sleep(0.2)
            status, text = get(http, "/metrics")
            assert status == 200
            found = samples(text)


def test_the_asgi_app_sweeps_expired_messages_while_its_lifespan_runs() -> None:
    async def main() -> None:
        app = StompASGI()
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def send(message: MutableMapping[str, Any]) -> None:
            await sent.put(dict(message))

        lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
        await inbox.put({"type": "lifespan.startup"})
        assert (await asyncio.wait_for(sent.get(), 5))["type"] == "lifespan.startup.complete"
        app.broker.publish("/queue/asgi", (("expiration", "50"),), b"x")
        assert app.broker.queue_depth("/queue/asgi") == 1
        until = time.monotonic() + 10
        while app.broker.queue_depth("/queue/asgi") and time.monotonic() < until:
            await asyncio.sleep(0.1)
        assert (app.broker.queue_depth("/queue/asgi"), app.broker.stats.expired) == (0, 1)
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(sent.get(), 5))["type"] == "lifespan.shutdown.complete"
        await lifespan

    run(main())
