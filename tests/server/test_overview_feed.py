"""The console's overview feed on its system topic: who may SEND and SUBSCRIBE to it, the
snapshot it publishes, and that it publishes only while somebody listens.

The rules are checked on the feed itself, then through a real ``stompbox serve`` (its
management listener installs the feed) with raw STOMP clients.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from stompbox.broker import Broker, BrokerError
from stompbox.protocol import Frame
from stompbox.security.config import SecurityConfig
from stompbox.security.passwords import hash_password
from stompbox.security.principal import Principal
from stompbox.server import ServerConfig
from stompbox.server.overview_feed import OVERVIEW_TOPIC, OverviewFeed
from stompbox.server.registry import SessionRegistry

from ..broker.test_broker import RecordingSink
from .helpers import RawClient
from .test_management import CHEAP, serving

OPS = Principal("ops", frozenset({"management"}))
ANN = Principal("ann")


def feed(users: bool) -> OverviewFeed:
    security = SecurityConfig(users={"ops": hash_password("ops", hasher=CHEAP)} if users else None)
    config = ServerConfig(security=security)
    return OverviewFeed(SessionRegistry(Broker(config.broker), config), "management")


@pytest.mark.parametrize("users", [True, False])
def test_nobody_may_send_to_the_system_topic(users: bool) -> None:
    broker = feed(users).registry.broker
    sink = RecordingSink("1.2")
    session = broker.open_session(sink, "1.2")
    with pytest.raises(BrokerError) as refused:
        broker.send(session, Frame("SEND", (("destination", OVERVIEW_TOPIC),), b"fake"))
    assert refused.value.message == "access denied"
    assert "clients may not SEND to it" in refused.value.detail
    with pytest.raises(BrokerError, match="access denied"):  # nor in a transaction
        broker.begin(session, Frame("BEGIN", (("transaction", "t"),)))
        broker.send(
            session,
            Frame("SEND", (("destination", OVERVIEW_TOPIC), ("transaction", "t")), b"fake"),
        )
    broker.send(session, Frame("SEND", (("destination", "/topic/stompbox.other"),)))


def test_with_users_only_the_management_role_subscribes_by_name_or_wildcard() -> None:
    guard = feed(users=True)
    for who, pattern in [(ANN, OVERVIEW_TOPIC), (None, OVERVIEW_TOPIC), (ANN, "/topic/*")]:
        with pytest.raises(BrokerError) as refused:
            guard.authorize(who, "SUBSCRIBE", pattern)
        assert "needs the 'management' role" in refused.value.detail
    with pytest.raises(BrokerError) as refused:
        guard.authorize(ANN, "SUBSCRIBE", "/topic/stompbox.*")
    assert f"reaches {OVERVIEW_TOPIC}" in refused.value.detail
    guard.authorize(ANN, "SUBSCRIBE", "/topic/prices.*")  # does not reach it
    guard.authorize(ANN, "SUBSCRIBE", "/queue/stompbox.overview")
    guard.authorize(OPS, "SUBSCRIBE", "/topic/**")


def test_without_users_anyone_may_subscribe() -> None:
    feed(users=False).authorize(None, "SUBSCRIBE", "/topic/**")


def test_snapshot_has_the_overview_shape_and_rates_leave_out_its_own_messages() -> None:
    guard = feed(users=False)
    broker = guard.registry.broker
    first = guard.snapshot(100.0)
    assert set(first) == {
        "version",
        "uptime_seconds",
        "connections",
        "sessions",
        "subscriptions",
        "queues",
        "messages",
        "rates",
        "memory",
    }
    assert first["rates"] == {"published_per_second": 0.0, "delivered_per_second": 0.0}
    guard.publish(101.0)  # nobody subscribes: published, delivered to no one
    for i in range(6):
        broker.publish("/queue/work", (), f"m{i}".encode())
    second = guard.snapshot(103.0)
    assert second["rates"]["published_per_second"] == 3.0  # 6 in 2 s; the feed's own left out
    assert second["messages"]["published"] == 7  # the broker's count, which holds it
    assert second["queues"] == 1


def _subscribe(client: RawClient, sub: str, destination: str) -> None:
    client.send(f"SUBSCRIBE\nid:{sub}\ndestination:{destination}\nreceipt:{sub}\n\n\0".encode())
    assert client.next_frame().command == "RECEIPT"


def test_the_rules_and_the_feed_on_a_real_server(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text(
        f"ops:{hash_password('ops', hasher=CHEAP)}:management\n"
        f"ann:{hash_password('ann', hasher=CHEAP)}\n"
    )
    with serving("--users", str(users)) as (port, _, _):
        ann = RawClient(port)
        ann.connect("1.2", b"login:ann\npasscode:ann\n")
        ann.send(f"SUBSCRIBE\nid:1\ndestination:{OVERVIEW_TOPIC}\n\n\0".encode())
        error = ann.next_frame()
        assert error.command == "ERROR" and error.get("message") == "access denied"
        assert "needs the 'management' role; user 'ann' does not have it" in error.body.decode()

        ops = RawClient(port)
        ops.connect("1.2", b"login:ops\npasscode:ops\n")
        _subscribe(ops, "all", "/topic/**")  # hears the feed only while it runs
        _subscribe(ops, "feed", OVERVIEW_TOPIC)
        messages = [ops.next_frame() for _ in range(4)]  # two snapshots, heard twice each
        assert {message.get("subscription") for message in messages} == {"all", "feed"}
        snapshot = json.loads(messages[-1].body)
        assert snapshot["sessions"] == 1 and snapshot["subscriptions"] == 2  # ann's is over
        assert messages[-1].get("content-type") == "application/json"
        ops.send(b"UNSUBSCRIBE\nid:feed\nreceipt:gone\n\n\0")
        while (frame := ops.next_frame()).command != "RECEIPT":
            assert frame.command == "MESSAGE"
        with pytest.raises(socket.timeout):  # nobody listens by name: the feed stops
            for _ in range(3):  # what a tick already under way sent, at most
                ops.next_frame(timeout=2.5)

        ops.send(f"SEND\ndestination:{OVERVIEW_TOPIC}\n\nfake\0".encode())
        error = ops.next_frame()
        assert error.command == "ERROR" and error.get("message") == "access denied"
        assert "clients may not SEND to it" in error.body.decode()
