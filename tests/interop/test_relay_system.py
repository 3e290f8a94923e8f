"""The relay's system session and client connections, seen on the wire in front of a real
RabbitMQ: opened at start-up with guest/guest and heart-beats, failing over between
addresses, and DISCONNECT receipts from the broker itself."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import stompbox
from stompbox.app import BrokerAvailability, StompApp, TestClient
from stompbox.net import parse_url
from stompbox.relay import RelaySettings

from ..support import run
from .proxy import Proxy


def test_system_session_opens_at_start_with_guest_and_heartbeats(relayed: str) -> None:
    async def main() -> None:
        port = parse_url(relayed).port
        proxy = await Proxy(port).start()
        settings = RelaySettings.from_url(proxy.url, heartbeat=(500, 500), registry_interval=60)
        app = StompApp(relay=settings)
        events: list[BrokerAvailability] = []
        app.on("broker_available")(events.append)
        assert app.relay is not None
        async with app.running():
            # no client, no publish: the system session is there at start-up
            assert await app.relay.system.wait_available(5)
            connect = bytes(proxy.sent).split(b"\0", 1)[0].decode()
            assert connect.startswith(("CONNECT\n", "STOMP\n"))
            assert "login:guest\n" in connect and "passcode:guest\n" in connect
            assert "heart-beat:500,500\n" in connect
            assert events and events[0].available and str(proxy.port) in events[0].detail
            await asyncio.sleep(0.3)  # its subscriptions and its first registry go out
            before_sent, before_received = len(proxy.sent), len(proxy.received)
            await asyncio.sleep(2.5)  # idle: only heart-beats cross, both ways
            # (RabbitMQ counts heart-beats in whole seconds: 500 ms becomes 1 s)
            assert bytes(proxy.sent[before_sent:]).strip(b"\n") == b""
            assert len(proxy.sent) - before_sent >= 2
            assert len(proxy.received) - before_received >= 2
        await proxy.cut()

    run(main())


def test_client_connections_have_their_own_heartbeats_and_login(relayed: str) -> None:
    async def main() -> None:
        proxy = await Proxy(parse_url(relayed).port).start()
        settings = RelaySettings.from_url(
            proxy.url, client_heartbeat=(400, 400), heartbeat=(0, 0), registry_interval=60
        )
        app = StompApp(relay=settings)
        async with TestClient(app, heartbeat=(0, 0)) as client:
            topic = f"/topic/hb-{uuid.uuid4().hex[:8]}"
            async with client.subscribe(topic) as sub:
                await client.send(topic, "through", receipt=True)
                assert (await sub.get(5)).text == "through"
            await asyncio.sleep(0.2)  # the UNSUBSCRIBE goes out
            system, client_relay = proxy.upstream  # the system session's, the client's
            assert b"heart-beat:0,0\n" in system.split(b"\0")[0]
            assert b"heart-beat:400,400\n" in client_relay.split(b"\0")[0]
            quiet_from = len(client_relay)
            await asyncio.sleep(1.5)  # the client sends nothing; its relay keeps beating
            assert client_relay[quiet_from:].count(b"\n") >= 1
            assert client_relay[quiet_from:].strip(b"\n") == b""
        await proxy.cut()

    run(main())


def test_disconnect_receipt_comes_from_the_broker(relayed: str) -> None:
    async def main() -> None:
        proxy = await Proxy(parse_url(relayed).port).start()
        app = StompApp(relay=RelaySettings.from_url(proxy.url))
        async with TestClient(app) as client:
            await client.send(f"/queue/bye-{uuid.uuid4().hex[:8]}", "x", receipt=True)
        # TestClient's close sends DISCONNECT with a receipt: relayed, answered by RabbitMQ
        frames = [f.lstrip(b"\n") for f in bytes(proxy.sent).split(b"\0")]
        disconnects = [f for f in frames if f.startswith(b"DISCONNECT\n")]
        assert any(b"receipt:" in f for f in disconnects), disconnects
        await proxy.cut()

    run(main())


def test_failover_to_the_next_address_when_one_dies_mid_stream(relayed: str) -> None:
    async def main() -> None:
        proxy = await Proxy(parse_url(relayed).port).start()
        settings = RelaySettings.from_url(
            f"{proxy.url},{relayed}", reconnect_interval=0.3, heartbeat=(0, 0)
        )
        app = StompApp(relay=settings)
        events: list[bool] = []
        app.on("broker_available")(lambda e: events.append(e.available))
        app.on("broker_unavailable")(lambda e: events.append(e.available))
        assert app.relay is not None
        queue = f"/queue/failover-{uuid.uuid4().hex[:8]}"
        async with TestClient(app) as client, client.subscribe(queue) as sub:
            assert await app.relay.system.wait_available(10)
            assert app.relay.system.url is not None
            assert app.relay.system.url.port == proxy.port  # the first address, in order
            await client.send(queue, "before", receipt=True)
            assert (await sub.get(5)).text == "before"
            await proxy.cut()  # that broker dies under every connection
            for _ in range(100):
                await asyncio.sleep(0.05)
                if app.relay.system.available and app.relay.system.url.port != proxy.port:
                    break
            assert app.relay.system.url is not None
            assert app.relay.system.url.port == parse_url(relayed).port
            # the client was not closed: its subscription is made again on the next broker
            await _eventually_delivered(client, sub, queue, "after")
            assert events[:3] == [True, False, True]
            await app.send(queue, "from the app")  # and the system session works
            assert (await sub.get(5)).text == "from the app"

    run(main())


async def _eventually_delivered(client: object, sub: object, queue: str, text: str) -> None:
    """Send until the relay is back for this client (held SENDs arrive once it is)."""
    await client.send(queue, text, receipt=True)  # type: ignore[attr-defined]
    message = await sub.get(10)  # type: ignore[attr-defined]
    assert message.text == text


def test_forwarded_client_login_reaches_the_broker(activemq: str) -> None:
    """``forward_login``: each client's own CONNECT login goes to the broker (ActiveMQ
    takes any), not the configured one."""

    async def main() -> None:
        proxy = await Proxy(parse_url(activemq).port).start()
        settings = RelaySettings.from_url(proxy.url, forward_login=True)
        app = StompApp(relay=settings, trust_login=True)
        async with TestClient(app, login="ann", passcode="secret") as client:
            await client.send("/queue/forwarded", "x", receipt=True)
            system, relayed = proxy.upstream
            assert b"login:guest\n" in system.split(b"\0")[0]
            assert b"login:ann\npasscode:secret\n" in relayed.split(b"\0")[0]
        await proxy.cut()

    run(main())


def test_a_client_login_the_broker_refuses_ends_that_client_only(rabbitmq: str) -> None:
    async def main() -> None:
        settings = RelaySettings.from_url(rabbitmq, client_login="nobody", client_passcode="x")
        app = StompApp(relay=settings)
        async with app.running():
            assert app.relay is not None and await app.relay.system.wait_available(5)
            with pytest.raises(stompbox.BrokerErrorFrame, match="relay login refused"):
                async with TestClient(app) as client:
                    await client.send("/queue/x", "refused", receipt=True)
            assert app.relay.system.available  # the system session's login is fine

    run(main())
