"""The relay's parts that need no broker: settings, failover order, the shared user
registry's ageing, the sender header across the broker, reconnect pacing."""

from __future__ import annotations

import json
import random

import pytest

from stompbox.protocol import Frame
from stompbox.relay import Addresses, RelaySettings, RelaySettingsError
from stompbox.relay.frames import RELAYED_USER, from_broker, to_broker
from stompbox.relay.names import private_name, reaches_reserved
from stompbox.relay.system import jittered, worth_logging
from stompbox.relay.users import RemoteUsers, encode_registry


def test_settings_from_a_url_list_with_spring_defaults() -> None:
    settings = RelaySettings.from_url("stomp://a:61613, stomp://b:61614/vh")
    assert [(u.host, u.port) for u in settings.brokers] == [("a", 61613), ("b", 61614)]
    assert (settings.login, settings.passcode) == ("guest", "guest")
    assert settings.heartbeat == (10_000, 10_000)
    assert settings.reconnect_interval == 5.0
    assert settings.vhost(settings.brokers[1]) == "vh"


def test_settings_from_toml_table() -> None:
    settings = RelaySettings.from_dict(
        {
            "brokers": ["stomp://a", "stomp://b"],
            "login": "sys",
            "passcode": "pw",
            "heartbeat": [5000, 0],
            "failover": "round-robin",
            "outage": "error",
        }
    )
    assert settings.heartbeat == (5000, 0)
    assert settings.credentials(settings.brokers[0], client=False) == ("sys", "pw")
    assert settings.credentials(settings.brokers[0], client=True) == ("sys", "pw")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "needs brokers"),
        ({"brokers": 5}, "brokers must be URLs"),
        ({"brokers": "http://x"}, "unsupported URL scheme"),
        ({"brokers": "stomp://x", "bogus": 1}, "unknown relay setting(s) bogus"),
        ({"brokers": "stomp://x", "heartbeat": [1]}, "heartbeat = (1,)"),
        ({"brokers": "stomp://x", "reconnect_interval": 0}, "reconnect_interval = 0"),
        ({"brokers": "stomp://x", "outage_buffer": -1}, "outage_buffer = -1"),
        ({"brokers": "stomp://x", "private_queue_expires": 0}, "private_queue_expires = 0"),
        ({"brokers": "stomp://x", "reconnect_jitter": 1.5}, "reconnect_jitter = 1.5"),
        ({"brokers": "stomp://x", "failover": "random"}, "choose one of order, round-robin"),
        ({"brokers": "stomp://x", "outage": "drop"}, "choose one of hold, error"),
    ],
)
def test_bad_settings_name_the_key_and_what_is_allowed(
    table: dict[str, object], message: str
) -> None:
    with pytest.raises(RelaySettingsError) as caught:
        RelaySettings.from_dict(table, "relay.toml")
    assert message in str(caught.value)
    assert "relay.toml" in str(caught.value) or "URL" in str(caught.value)


def test_credentials_url_wins_over_system_login_but_not_over_client_login() -> None:
    settings = RelaySettings.from_url("stomp://u:p@a", client_login="c", client_passcode="q")
    url = settings.brokers[0]
    assert settings.credentials(url, client=False) == ("u", "p")
    assert settings.credentials(url, client=True) == ("c", "q")


def test_failover_in_order_always_starts_from_the_first() -> None:
    addresses = Addresses(RelaySettings.from_url("stomp://a,stomp://b,stomp://c"))
    assert [u.host for u in addresses.attempt()] == ["a", "b", "c"]
    first = addresses.attempt()
    assert next(first).host == "a"
    assert [u.host for u in addresses.attempt()] == ["a", "b", "c"]


def test_failover_round_robin_starts_after_the_last_one_tried() -> None:
    settings = RelaySettings.from_url("stomp://a,stomp://b,stomp://c", failover="round-robin")
    addresses = Addresses(settings)
    assert next(addresses.attempt()).host == "a"  # a answered; the next attempt moves on
    assert [u.host for u in addresses.attempt()] == ["b", "c", "a"]  # none answered
    assert next(addresses.attempt()).host == "b"  # after a, the last one tried


def test_reconnect_waits_are_jittered_within_bounds() -> None:
    random.seed(7)
    settings = RelaySettings.from_url("stomp://a", reconnect_interval=5, reconnect_jitter=0.2)
    waits = [jittered(settings) for _ in range(1000)]
    assert 4.0 <= min(waits) < 4.1 and 5.9 < max(waits) <= 6.0


def test_reconnect_attempts_are_logged_at_a_decaying_rate() -> None:
    logged = [n for n in range(1, 721) if worth_logging(n)]  # an hour at 5 s
    assert logged == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def test_remote_users_age_out_and_ignore_their_own_and_malformed_parts() -> None:
    remote = RemoteUsers("me")
    other = {"alice": {"s1": ["/queue/notes"], "s2": ["/queue/other"]}}
    remote.update(encode_registry("them", other, 30), now=100)
    remote.update(encode_registry("me", {"bob": {"s3": ["/queue/notes"]}}, 30), now=100)
    remote.update(b"{not json", now=100)
    remote.update(json.dumps({"instance": 1, "users": [], "ttl": 1}).encode(), now=100)
    assert remote.sessions("alice", "/queue/notes", now=110) == ["s1"]
    assert remote.knows("alice", now=110) and not remote.knows("bob", now=110)
    assert remote.counts(now=110) == {"alice": 2}
    assert remote.sessions("alice", "/queue/notes", now=131) == []  # not heard for 30 s
    assert not remote.knows("alice", now=131)


def test_the_verified_sender_crosses_the_broker_under_its_own_name() -> None:
    send = Frame("SEND", (("destination", "/queue/a"), ("user-id", "ann"), (RELAYED_USER, "x")))
    relayed = to_broker(send)
    assert relayed.headers == (("destination", "/queue/a"), (RELAYED_USER, "ann"))
    message = Frame("MESSAGE", (*relayed.headers, ("user-id", "guest")))
    assert from_broker(message).headers == (("destination", "/queue/a"), ("user-id", "ann"))
    plain = Frame("MESSAGE", (("destination", "/queue/a"),))
    assert from_broker(plain) is plain and to_broker(plain) is plain


@pytest.mark.parametrize(
    ("destination", "reaches"),
    [
        ("/topic/stompbox.user-registry", True),
        ("/topic/#", True),
        ("/topic/stompbox.*", True),
        ("/topic/*.user-registry", True),
        ("/topic/stompbox.>", True),
        ("/topic/chat.*", False),
        ("/topic/stompbox.user-registry.x", False),
        ("/queue/#", False),
        ("/topic/stompbox", False),
        ("/topic/stompbox.unresolved-user", True),
    ],
)
def test_clients_cannot_reach_the_instances_topics_through_wildcards(
    destination: str, reaches: bool
) -> None:
    assert RelaySettings.from_url("stomp://a").internal(destination) is reaches


@pytest.mark.parametrize(
    ("destination", "reserved"),
    [
        ("/queue/stompbox.u.0123.inbox", True),
        ("/topic/stompbox.user-registry", True),
        ("/topic/#", True),
        ("/topic/*", True),
        ("/topic/*.eu", True),
        ("/queue/>", True),
        ("/exchange/amq.topic/#", True),
        ("/exchange/amq.topic/stompbox.#", True),
        ("/exchange/amq.topic", True),
        ("/amq/queue/stompbox.u.0123.inbox", True),
        ("/topic/stock.*", False),
        ("/topic/stock.#", False),
        ("/queue/jobs", False),
        ("/exchange/amq.topic/prices.*", False),
        ("/amq/queue/jobs", False),
        ("/temp-queue/replies", False),
    ],
)
def test_names_of_stompboxs_own_on_the_broker_are_out_of_reach(
    destination: str, reserved: bool
) -> None:
    assert reaches_reserved(destination) is reserved


def test_private_names_start_with_the_reserved_word() -> None:
    name = private_name("/queue/inbox.eu", "ab12")
    assert name == "/queue/stompbox.u.ab12.inbox.eu"
    assert reaches_reserved(name)
