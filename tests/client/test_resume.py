"""The asyncio client resumes a retained topic after a reconnection (issue 17): through
a TCP proxy that cuts the connection, and across a broker restart (a gap)."""

from __future__ import annotations

import asyncio

import stompbox
from stompbox.broker import Broker, BrokerConfig
from stompbox.client import Client
from stompbox.server import ServerConfig, TcpServer

from ..interop.proxy import Proxy
from ..support import free_port, run

RETAINING = BrokerConfig(retain_topics=["/topic/chat"])


async def resubscribed(broker: Broker, count: int) -> None:
    """Wait until ``count`` sessions hold a subscription."""
    for _ in range(200):
        if sum(1 for s in broker.sessions.values() if s.subscriptions) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the client did not subscribe again")


async def publish(port: int, *bodies: str) -> None:
    async with stompbox.connect(f"stomp://127.0.0.1:{port}/") as producer:
        for body in bodies:
            await producer.send("/topic/chat", body, receipt=True)


def test_reconnect_resumes_from_the_last_position_without_loss_or_duplicate() -> None:
    async def main() -> None:
        port = free_port()
        broker = Broker(RETAINING)
        server = TcpServer(broker, ServerConfig(port=port, ws_port=0))
        await server.start()
        proxy = await Proxy(port).start()
        client: Client = stompbox.connect(proxy.url, reconnect=True, backoff=(0.05, 0.2))
        try:
            await client.open()
            async with client.subscribe("/topic/chat") as sub:
                await publish(port, "1", "2", "3")
                assert [(await sub.get(5)).text for _ in range(3)] == ["1", "2", "3"]
                assert sub.position is not None and sub.position.endswith("-3")
                await proxy.cut()  # the network goes; the broker stays
                await asyncio.sleep(0.1)
                await publish(port, "4", "5", "6")
                await proxy.start()
                await resubscribed(broker, 1)
                await publish(port, "7")
                got = [await sub.get(5) for _ in range(4)]
                assert [m.text for m in got] == ["4", "5", "6", "7"]
                assert got[0].headers.get("stompbox-resume") == "ok"
                assert not sub.gap
                resumed = [f for f in proxy.upstream[-1].split(b"\0") if b"SUBSCRIBE" in f]
                assert resumed and b"resume-from:" in resumed[0]
                with_timeout = asyncio.wait_for(sub.get(), 0.3)
                try:
                    extra = await with_timeout
                except TimeoutError:
                    extra = None
                assert extra is None, f"a duplicate came: {extra}"
        finally:
            await client.close()
            await proxy.cut()
            await server.stop()

    run(main())


def test_a_restarted_broker_is_reported_as_a_gap() -> None:
    async def main() -> None:
        port = free_port()
        config = ServerConfig(port=port, ws_port=0)
        first = TcpServer(Broker(RETAINING), config)
        await first.start()
        client: Client = stompbox.connect(
            f"stomp://127.0.0.1:{port}/", reconnect=True, backoff=(0.05, 0.2)
        )
        second: TcpServer | None = None
        try:
            await client.open()
            async with client.subscribe("/topic/chat") as sub:
                await publish(port, "before")
                assert (await sub.get(5)).text == "before"
                await first.stop()  # what it retained goes with it
                second = TcpServer(Broker(RETAINING), config)
                await second.start()
                await resubscribed(second.broker, 1)
                await publish(port, "after")
                message = await sub.get(5)
                assert message.text == "after"
                assert message.headers.get("stompbox-resume") == "gap"
                assert sub.gap
        finally:
            await client.close()
            if second is not None:
                await second.stop()

    run(main())
