"""stomp.py and the stompbox client talking to each other through the stompbox broker."""

from __future__ import annotations

import asyncio
from typing import Any

import stomp

import stompbox
from stompbox.server import ServerConfig, start_server


def test_stomp_py_producer_stompbox_consumer_and_back() -> None:
    async def main() -> None:
        async with start_server(ServerConfig(port=0, ws_port=0)) as server:
            url = f"stomp://127.0.0.1:{server.port}/"
            async with stompbox.connect(url) as client, client.subscribe("/queue/mixed") as sub:
                replies: list[Any] = []

                class Replies(stomp.ConnectionListener):  # type: ignore[misc]
                    def on_message(self, frame: Any) -> None:
                        replies.append(frame)

                def stomp_py() -> Any:
                    conn = stomp.Connection12([("127.0.0.1", server.port)])
                    conn.set_listener("", Replies())
                    conn.connect("guest", "guest", wait=True)
                    conn.subscribe("/queue/replies", id="r")
                    conn.send(
                        "/queue/mixed", "from stomp.py", headers={"reply-to": "/queue/replies"}
                    )
                    return conn

                conn = await asyncio.to_thread(stomp_py)
                message = await sub.get(5)
                assert message.text == "from stomp.py"
                await client.send(message.headers["reply-to"], "from stompbox", receipt=True)
                for _ in range(100):
                    if replies:
                        break
                    await asyncio.sleep(0.05)
                assert replies[0].body == "from stompbox"
                await asyncio.to_thread(conn.disconnect)

    asyncio.run(asyncio.wait_for(main(), 30))
