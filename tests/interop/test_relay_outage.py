"""What a relay's clients see while the broker is away and once it is back: the broker
(RabbitMQ behind a proxy that "dies" and comes back on the same address) goes under
connected clients, which stay connected to stompbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import stompbox
from stompbox.app import StompApp, TestClient
from stompbox.net import parse_url
from stompbox.relay import RelaySettings

from ..support import run
from .proxy import Proxy


async def _until(check: Callable[[], bool], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def _outage_test(
    relayed: str, body: Callable[[StompApp, Proxy, list[bool]], Awaitable[None]], **options: Any
) -> None:
    async def main() -> None:
        proxy = await Proxy(parse_url(relayed).port).start()
        settings = RelaySettings.from_url(
            proxy.url, reconnect_interval=0.3, heartbeat=(0, 0), **options
        )
        app = StompApp(relay=settings)
        events: list[bool] = []
        app.on("broker_available")(lambda e: events.append(e.available))
        app.on("broker_unavailable")(lambda e: events.append(e.available))
        try:
            async with app.running():
                assert app.relay is not None
                assert await app.relay.system.wait_available(10)  # before any cut
                await body(app, proxy, events)
        finally:
            await proxy.cut()

    run(main())


def test_clients_stay_connected_and_held_sends_arrive_once_the_broker_is_back(
    relayed: str,
) -> None:
    async def body(app: StompApp, proxy: Proxy, events: list[bool]) -> None:
        queue = f"/queue/outage-{uuid.uuid4().hex[:8]}"
        async with (
            TestClient(app, login="ann") as client,
            client.subscribe(queue) as sub,
            client.subscribe("/user/queue/errors") as notices,
        ):
            await client.send(queue, "before", receipt=True)
            assert (await sub.get(5)).text == "before"
            await proxy.cut()
            notice = await notices.get(5)  # told at once, by stompbox itself
            assert notice.headers["message"] == "broker unavailable"
            assert events == [True, False]
            # sent during the outage: held, and confirmed by the broker once it is back
            sends = [
                asyncio.create_task(client.send(queue, f"held {i}", receipt=True)) for i in range(3)
            ]
            await asyncio.sleep(0.8)  # several reconnect attempts fail meanwhile
            assert not any(task.done() for task in sends)
            await proxy.start()
            await asyncio.wait_for(asyncio.gather(*sends), 10)
            assert [(await sub.get(5)).text for _ in range(3)] == ["held 0", "held 1", "held 2"]
            back = await notices.get(5)
            assert back.headers["message"] == "broker available"
            assert events == [True, False, True]
            await app.send(queue, "and the template")
            assert (await sub.get(5)).text == "and the template"

    _outage_test(relayed, body)


def test_outage_error_mode_refuses_sends_with_an_error_naming_the_outage(relayed: str) -> None:
    async def body(app: StompApp, proxy: Proxy, events: list[bool]) -> None:
        async with TestClient(app) as client:
            await client.send(f"/queue/e-{uuid.uuid4().hex[:8]}", "ok", receipt=True)
            await proxy.cut()
            await _until(lambda: events == [True, False])
            with pytest.raises(stompbox.BrokerErrorFrame) as caught:
                await client.send("/queue/anything", "refused", receipt=True)
            assert caught.value.message == "broker unavailable"
            assert "unreachable" in caught.value.frame.body.decode()
        with pytest.raises(stompbox.relay.RelayUnavailable):  # and the template says so too
            await app.send("/queue/anything", "refused")

    _outage_test(relayed, body, outage="error")


def test_outage_buffer_is_bounded(relayed: str) -> None:
    async def body(app: StompApp, proxy: Proxy, events: list[bool]) -> None:
        async with TestClient(app) as client:
            await client.send(f"/queue/b-{uuid.uuid4().hex[:8]}", "ok", receipt=True)
            await proxy.cut()
            await _until(lambda: events == [True, False])
            await client.send("/queue/x", "small fits")  # held
            with pytest.raises(stompbox.BrokerErrorFrame) as caught:
                await client.send("/queue/x", "y" * 5000, receipt=True)
            assert "outage buffer is full" in caught.value.frame.body.decode()

    _outage_test(relayed, body, outage_buffer=2000)


def test_a_transaction_lost_with_the_broker_is_not_committed(relayed: str) -> None:
    async def body(app: StompApp, proxy: Proxy, events: list[bool]) -> None:
        queue = f"/queue/tx-{uuid.uuid4().hex[:8]}"
        async with TestClient(app) as client, client.subscribe(queue) as sub:
            with pytest.raises(stompbox.BrokerErrorFrame) as caught:
                async with client.transaction() as tx:
                    await tx.send(queue, "in the transaction")
                    await client.send(queue, "outside", receipt=True)
                    assert (await sub.get(5)).text == "outside"  # the tx was sent before
                    await proxy.cut()
                    await _until(lambda: events == [True, False])
                    await proxy.start()
                    await _until(lambda: events == [True, False, True])
                    await asyncio.sleep(1.2)  # the client's own relay reconnects
            assert caught.value.message == "transaction lost"
        async with TestClient(app) as again, again.subscribe(queue) as sub:
            with pytest.raises(TimeoutError):  # nothing of the transaction was committed
                await sub.get(0.5)

    _outage_test(relayed, body)


def test_acks_of_messages_from_a_lost_connection_are_answered_and_redelivered(
    relayed: str,
) -> None:
    async def body(app: StompApp, proxy: Proxy, events: list[bool]) -> None:
        queue = f"/queue/ack-{uuid.uuid4().hex[:8]}"
        async with (
            TestClient(app) as client,
            client.subscribe(queue, ack="client-individual") as sub,
        ):
            await client.send(queue, "job", receipt=True)
            first = await sub.get(5)
            await proxy.cut()
            await _until(lambda: events == [True, False])
            await first.ack()  # answered by stompbox: the broker has moved on
            await proxy.start()
            again = await sub.get(10)  # RabbitMQ requeued it when the connection died
            assert again.text == "job" and again.redelivered
            await again.ack()
            with pytest.raises(TimeoutError):
                await sub.get(0.5)

    _outage_test(relayed, body)


def test_the_apps_messages_are_not_lost_when_the_broker_dies_under_them(relayed: str) -> None:
    """The template publishes on while the broker goes and comes back: every message
    arrives (some maybe twice), since the system session resends what was unconfirmed."""

    async def body(app: StompApp, proxy: Proxy, events: list[bool]) -> None:
        queue = f"/queue/template-{uuid.uuid4().hex[:8]}"
        for i in range(200):
            await app.send(queue, f"m{i}", {"persistent": "true"})
            if i == 80:
                await proxy.cut()
            if i == 120:
                await proxy.start()
            await asyncio.sleep(0.005)
        async with TestClient(app) as client, client.subscribe(queue) as sub:
            seen: set[str] = set()
            while len(seen) < 200:
                seen.add((await sub.get(10)).text)
        assert False in events and events[-1] is True

    _outage_test(relayed, body)


def test_a_message_the_broker_refuses_is_logged_once_and_not_sent_again(
    rabbitmq: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(app: StompApp, proxy: Proxy, events: list[bool]) -> None:
        queue = f"/queue/after-{uuid.uuid4().hex[:8]}"
        await _until(lambda: events == [True])
        await app.send("/bogus/place", "refused by RabbitMQ")
        await app.send(queue, "fine")
        async with TestClient(app) as client, client.subscribe(queue) as sub:
            assert (await sub.get(5)).text == "fine"
        await asyncio.sleep(0.5)

    _outage_test(rabbitmq, body)
    refusals = [r for r in caplog.records if "refused a message" in r.message]
    assert len(refusals) == 1
