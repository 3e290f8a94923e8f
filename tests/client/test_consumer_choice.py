"""Exclusive consumers and consumer priorities (issue 17) through stompbox's own asyncio
client, over a real socket."""

from __future__ import annotations

import asyncio

import pytest

import stompbox
from stompbox.client import BrokerErrorFrame
from stompbox.server import ServerConfig, TcpServer, start_server

from ..support import run


def url(srv: TcpServer) -> str:
    return f"stomp://guest:guest@127.0.0.1:{srv.port}/"


def test_exclusive_consumer_and_failover_in_order_to_the_standby() -> None:
    async def main() -> None:
        async with (
            start_server(ServerConfig(port=0, ws_port=0)) as srv,
            stompbox.connect(url(srv)) as producer,
            stompbox.connect(url(srv)) as owner_client,
            stompbox.connect(url(srv)) as standby_client,
            owner_client.subscribe(
                "/queue/jobs", ack="client-individual", headers={"activemq.exclusive": "true"}
            ) as owner,
            standby_client.subscribe(
                "/queue/jobs", ack="client-individual", headers={"exclusive": "true"}
            ) as standby,
        ):
            for n in range(1, 5):
                await producer.send("/queue/jobs", f"m{n}", receipt=True)
            first = await owner.get(5)
            await first.ack()
            held = [await owner.get(5) for _ in range(3)]
            assert [first.text, *(m.text for m in held)] == ["m1", "m2", "m3", "m4"]
            with pytest.raises(TimeoutError):
                await standby.get(0.2)
            await owner_client.close()  # the owner goes: m2-m4 first, to the standby
            await producer.send("/queue/jobs", "m5", receipt=True)
            got = [await standby.get(5) for _ in range(4)]
            assert [(m.text, m.redelivered) for m in got] == [
                ("m2", True),
                ("m3", True),
                ("m4", True),
                ("m5", False),
            ]
            for message in got:
                await message.ack()

    run(main())


def test_a_higher_priority_consumer_is_served_first_while_it_has_room() -> None:
    async def main() -> None:
        async with (
            start_server(ServerConfig(port=0, ws_port=0)) as srv,
            stompbox.connect(url(srv)) as client,
        ):
            one = {"prefetch-count": "1"}
            async with (
                client.subscribe(
                    "/queue/p", ack="client", headers={**one, "x-priority": "-5"}
                ) as low,
                client.subscribe(
                    "/queue/p", ack="client", headers={**one, "x-priority": "7"}
                ) as high,
            ):
                for body in ("a", "b", "c"):
                    await client.send("/queue/p", body, receipt=True)
                first = await high.get(5)
                assert first.text == "a"
                second = await low.get(5)  # high is full (prefetch-count 1): low gets b
                assert second.text == "b"
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(high.get(), 0.2)
                await second.ack()  # room at low only: c goes there, high is still full
                third = await low.get(5)
                assert third.text == "c"
                await first.ack()
                await third.ack()
                await client.send("/queue/p", "d", receipt=True)
                assert (await high.get(5)).text == "d"  # both have room: the higher wins

    run(main())


def test_a_bad_priority_or_exclusive_value_is_refused() -> None:
    async def main() -> None:
        async with start_server(ServerConfig(port=0, ws_port=0)) as srv:
            async with stompbox.connect(url(srv)) as client:
                with pytest.raises(BrokerErrorFrame, match=r"invalid activemq\.priority header"):
                    async with client.subscribe("/queue/q", headers={"activemq.priority": "200"}):
                        pass
            async with stompbox.connect(url(srv)) as client:
                with pytest.raises(BrokerErrorFrame, match="invalid exclusive header"):
                    async with client.subscribe("/queue/q", headers={"exclusive": "maybe"}):
                        pass

    run(main())
