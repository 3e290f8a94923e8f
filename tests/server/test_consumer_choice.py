"""Exclusive consumers and consumer priorities (issue 17) as stomp.py sees them over a real
socket: one exclusive consumer at a time with failover in order, unacked messages
redelivered to the successor first; priorities served highest first, round-robin among
equals; and the ERROR a bad header gets."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Listener, ServerThread, stomp_client


def subscribed(
    conn: Any, listener: Listener, destination: str, sub_id: str, **headers: str
) -> None:
    """SUBSCRIBE and wait for its RECEIPT, so that the order of consumers is known."""
    receipt = f"sub-{sub_id}"
    conn.subscribe(
        destination, id=sub_id, ack="client-individual", headers=headers, receipt=receipt
    )
    assert listener.receipts.get(timeout=5) == receipt


def sent(conn: Any, listener: Listener, destination: str, *bodies: str) -> None:
    for body in bodies:
        conn.send(destination, body, headers={"receipt": body})
        assert listener.receipts.get(timeout=5) == body


def taken(conn: Any, listener: Listener, count: int, *, ack: bool = True) -> list[str]:
    got = []
    for _ in range(count):
        message = listener.get()
        got.append(message.body)
        if ack:
            conn.ack(message.headers["ack"])
    return got


@pytest.mark.parametrize("header", ["exclusive", "activemq.exclusive", "x-single-active-consumer"])
def test_only_the_exclusive_consumer_gets_messages_and_the_next_takes_over_its_unacked(
    server: ServerThread, header: str
) -> None:
    plain, plain_l = stomp_client(server.port)
    subscribed(plain, plain_l, "/queue/ex", "1")  # subscribed first, yet the exclusive wins
    first, first_l = stomp_client(server.port)
    subscribed(first, first_l, "/queue/ex", "1", **{header: "true"})
    second, second_l = stomp_client(server.port)
    subscribed(second, second_l, "/queue/ex", "1", **{header: "true"})
    producer, producer_l = stomp_client(server.port)
    sent(producer, producer_l, "/queue/ex", "m1", "m2", "m3", "m4")
    assert taken(first, first_l, 1) == ["m1"]
    assert taken(first, first_l, 3, ack=False) == ["m2", "m3", "m4"]
    assert plain_l.none_within(0.2) and second_l.none_within(0.1)

    first.disconnect()  # its connection ends: m2-m4 go to the next exclusive, first
    sent(producer, producer_l, "/queue/ex", "m5")
    again = [second_l.get() for _ in range(4)]
    assert [m.body for m in again] == ["m2", "m3", "m4", "m5"]
    assert [m.headers.get("redelivered") for m in again[:3]] == ["true"] * 3
    for message in again:
        second.ack(message.headers["ack"])
    assert plain_l.none_within(0.2)

    second.disconnect()  # no exclusive consumer left: the plain one gets the messages
    sent(producer, producer_l, "/queue/ex", "m6")
    assert taken(plain, plain_l, 1) == ["m6"]
    plain.disconnect()
    producer.disconnect()


def test_unsubscribe_hands_the_queue_to_the_standby_with_the_unacked_messages_first(
    server: ServerThread,
) -> None:
    first, first_l = stomp_client(server.port)
    subscribed(first, first_l, "/queue/ex2", "a", exclusive="true")
    second, second_l = stomp_client(server.port)
    subscribed(second, second_l, "/queue/ex2", "b")  # a standby that is not exclusive
    sent(first, first_l, "/queue/ex2", "m1", "m2", "m3")
    got = [first_l.get() for _ in range(3)]
    assert [m.body for m in got] == ["m1", "m2", "m3"]
    first.ack(got[0].headers["ack"])
    first.unsubscribe("a")  # m2 and m3 go back to the head of the queue, in order
    sent(first, first_l, "/queue/ex2", "m4")
    again = [second_l.get() for _ in range(3)]
    assert [(m.body, m.headers.get("redelivered")) for m in again] == [
        ("m2", "true"),
        ("m3", "true"),
        ("m4", None),
    ]
    second.disconnect()
    first.disconnect()


def test_a_full_exclusive_consumer_holds_messages_back_from_the_standbys(
    server: ServerThread,
) -> None:
    conn, listener = stomp_client(server.port)
    subscribed(conn, listener, "/queue/ex3", "x", exclusive="true", **{"prefetch-count": "1"})
    subscribed(conn, listener, "/queue/ex3", "y")
    sent(conn, listener, "/queue/ex3", "m1", "m2", "m3")
    first = listener.get()
    assert (first.body, first.headers["subscription"]) == ("m1", "x")
    assert listener.none_within(0.2)  # m2 waits for x's room: y gets nothing
    conn.ack(first.headers["ack"])
    for expected in ("m2", "m3"):
        message = listener.get()
        assert (message.body, message.headers["subscription"]) == (expected, "x")
        conn.ack(message.headers["ack"])
    conn.disconnect()


def test_priorities_serve_the_highest_with_room_round_robin_among_equals(
    server: ServerThread,
) -> None:
    conn, listener = stomp_client(server.port)
    room = {"prefetch-count": "2"}
    subscribed(conn, listener, "/queue/prio", "low", **room)  # priority 0, the default
    subscribed(conn, listener, "/queue/prio", "high-a", **{"x-priority": "10"}, **room)
    subscribed(conn, listener, "/queue/prio", "mid", **{"activemq.priority": "5"}, **room)
    subscribed(conn, listener, "/queue/prio", "high-b", **{"x-priority": "10"}, **room)
    sent(conn, listener, "/queue/prio", *(f"m{n}" for n in range(1, 10)))
    got = [listener.get() for _ in range(8)]
    by_sub = [(m.body, m.headers["subscription"]) for m in got]
    assert by_sub == [
        ("m1", "high-a"),
        ("m2", "high-b"),
        ("m3", "high-a"),
        ("m4", "high-b"),
        ("m5", "mid"),
        ("m6", "mid"),
        ("m7", "low"),
        ("m8", "low"),
    ]
    assert listener.none_within(0.2)  # m9 waits: every consumer is full
    conn.ack(got[6].headers["ack"])  # room at the lowest only: m9 goes there
    message = listener.get()
    assert (message.body, message.headers["subscription"]) == ("m9", "low")
    sent(conn, listener, "/queue/prio", "m10")
    conn.ack(got[4].headers["ack"])  # room at mid
    message = listener.get()
    assert (message.body, message.headers["subscription"]) == ("m10", "mid")
    conn.disconnect()


@pytest.mark.parametrize(
    ("header", "value", "allowed"),
    [
        ("x-priority", "high", "from -2147483648 to 2147483647"),
        ("x-priority", "2147483648", "from -2147483648 to 2147483647"),
        ("x-priority", "1.5", "from -2147483648 to 2147483647"),
        ("activemq.priority", "128", "from 0 to 127"),
        ("activemq.priority", "-1", "from 0 to 127"),
        ("exclusive", "yes", "true or false"),
        ("activemq.exclusive", "1", "true or false"),
        ("x-single-active-consumer", "", "true or false"),
    ],
)
def test_a_bad_value_gets_an_error_naming_the_header_and_what_is_allowed(
    server: ServerThread, header: str, value: str, allowed: str
) -> None:
    conn, listener = stomp_client(server.port)
    conn.subscribe("/queue/bad", id="1", headers={header: value})
    error = listener.errors.get(timeout=5)
    assert error.headers["message"] == f"invalid {header} header"
    assert allowed in error.body and repr(value) in error.body


def test_disagreeing_headers_and_a_topic_are_refused(server: ServerThread) -> None:
    conn, listener = stomp_client(server.port)
    conn.subscribe(
        "/queue/bad", id="1", headers={"exclusive": "true", "activemq.exclusive": "false"}
    )
    error = listener.errors.get(timeout=5)
    assert error.headers["message"] == "conflicting exclusive headers"
    assert "exclusive:true" in error.body and "activemq.exclusive:false" in error.body
    conn, listener = stomp_client(server.port)
    conn.subscribe("/topic/news", id="1", headers={"x-priority": "3"})
    error = listener.errors.get(timeout=5)
    assert error.headers["message"] == "x-priority on a topic"
    assert "queue destinations only" in error.body
