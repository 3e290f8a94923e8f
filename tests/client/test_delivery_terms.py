"""Message priority and expiry (issue 17) through stompbox's own asyncio client."""

from __future__ import annotations

import asyncio
import time

import pytest

import stompbox
from stompbox.broker import BrokerConfig
from stompbox.client import BrokerErrorFrame
from stompbox.server import ServerConfig, TcpServer, start_server

from ..support import run


def url(srv: TcpServer) -> str:
    return f"stomp://guest:guest@127.0.0.1:{srv.port}/"


def test_priority_order_fifo_within_a_level_and_nack_to_the_head_of_its_level() -> None:
    async def main() -> None:
        async with (
            start_server(ServerConfig(port=0, ws_port=0)) as srv,
            stompbox.connect(url(srv)) as client,
        ):
            for body, priority in [("a", "2"), ("b", "8"), ("c", "2"), ("d", "8")]:
                await client.send("/queue/p", body, headers={"priority": priority}, receipt=True)
            await client.send("/queue/p", "e", receipt=True)  # the default, 4
            headers = {"prefetch-count": "1"}
            async with client.subscribe(
                "/queue/p", ack="client-individual", headers=headers
            ) as sub:
                first = await sub.get(5)
                assert first.text == "b"
                await first.nack()
                again = await sub.get(5)
                assert (again.text, again.redelivered) == ("b", True)
                got = [again]
                for _ in range(4):
                    await got[-1].ack()
                    got.append(await sub.get(5))
                await got[-1].ack()
                assert [m.text for m in got] == ["b", "d", "e", "a", "c"]

    run(main())


def test_expired_messages_are_not_delivered_and_a_bad_value_is_refused() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=0, broker=BrokerConfig(queue_ttl={"/queue/t": 150}))
        async with start_server(config) as srv:
            async with stompbox.connect(url(srv)) as client:
                await client.send("/queue/e", "rel", headers={"expiration": "100"}, receipt=True)
                soon = str(int(time.time() * 1000) + 100)
                await client.send("/queue/e", "abs", headers={"expires": soon}, receipt=True)
                await client.send("/queue/e", "kept", receipt=True)
                await client.send("/queue/t", "ttl", receipt=True)
                await asyncio.sleep(0.3)
                async with client.subscribe("/queue/e") as sub, client.subscribe("/queue/t") as t:
                    assert (await sub.get(5)).text == "kept"
                    with pytest.raises(TimeoutError):
                        await sub.get(0.3)
                    with pytest.raises(TimeoutError):
                        await t.get(0.1)
                assert srv.broker.stats.expired == 3
            async with stompbox.connect(url(srv)) as client:
                with pytest.raises(BrokerErrorFrame, match="invalid expiration header"):
                    await client.send("/queue/e", "x", headers={"expiration": "-5"}, receipt=True)

    run(main())
