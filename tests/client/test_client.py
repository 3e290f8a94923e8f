"""The asyncio client against a stompbox server in the same event loop."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme

import stompbox
from stompbox.broker import Broker
from stompbox.client import parse_url
from stompbox.security.config import SecurityConfig
from stompbox.security.passwords import hash_password
from stompbox.server import ServerConfig, TcpServer, start_server

from ..support import free_port, run


@contextlib.asynccontextmanager
async def server(**config: Any) -> AsyncIterator[TcpServer]:
    async with start_server(
        ServerConfig(port=config.pop("port", 0), ws_port=0, **config)
    ) as running:
        yield running


def url(srv: TcpServer, scheme: str = "stomp") -> str:
    return f"{scheme}://guest:guest@127.0.0.1:{srv.port}/"


def test_send_and_receive_str_bytes_json() -> None:
    async def main() -> None:
        async with server() as srv, stompbox.connect(url(srv)) as client:
            assert client.version == "1.2"
            assert client.server and client.server.startswith("stompbox/")
            async with client.subscribe("/queue/a") as sub:
                await client.send("/queue/a", "héllo")
                await client.send("/queue/a", b"\x00\x01raw")
                await client.send("/queue/a", {"n": 1}, headers={"x-trace": "7"})
                text, raw, data = [await sub.get(5) for _ in range(3)]
            assert text.text == "héllo"
            assert text.headers["content-type"] == "text/plain;charset=utf-8"
            assert raw.body == b"\x00\x01raw"
            assert "content-type" not in raw.headers
            assert data.json() == {"n": 1}
            assert data.headers["content-type"] == "application/json"
            assert data.headers["x-trace"] == "7"
            assert data.destination == "/queue/a"
            assert data.message_id

    run(main())


def test_receipt_errors_carry_the_error_frame() -> None:
    async def main() -> None:
        async with server() as srv:
            client = stompbox.connect(url(srv))
            await client.open()
            with pytest.raises(stompbox.BrokerErrorFrame) as info:
                await client.send("/elsewhere", "x", receipt=True)
            assert info.value.message == "unknown destination"
            assert info.value.headers["receipt-id"].startswith("r-")
            assert b"/elsewhere" in info.value.body
            with pytest.raises(stompbox.StompError):
                await client.send("/queue/a", "after the error")
            await client.close()

    run(main())


@pytest.mark.parametrize("versions", [("1.2",), ("1.1",), ("1.0",)])
def test_ack_nack_per_version(versions: tuple[str, ...]) -> None:
    async def main() -> None:
        async with server() as srv, stompbox.connect(url(srv), versions=versions) as client:
            assert client.version == versions[0]
            async with client.subscribe(
                "/queue/jobs", ack="client-individual" if versions[0] != "1.0" else "client"
            ) as sub:
                await client.send("/queue/jobs", "job")
                first = await sub.get(5)
                if versions[0] != "1.0":
                    await first.nack()
                    again = await sub.get(5)
                    assert again.redelivered
                    assert again.headers["redelivery-count"] == "1"
                    await again.ack()
                else:
                    await first.ack()
            assert srv.broker.queue_depth("/queue/jobs") == 0

    run(main())


def test_unacked_messages_return_after_close() -> None:
    async def main() -> None:
        async with server() as srv:
            async with (
                stompbox.connect(url(srv)) as client,
                client.subscribe("/queue/r", ack="client") as sub,
            ):
                await client.send("/queue/r", "1", receipt=True)
                await sub.get(5)
            async with (
                stompbox.connect(url(srv)) as client,
                client.subscribe("/queue/r") as sub,
            ):
                message = await sub.get(5)
                assert message.text == "1" and message.redelivered

    run(main())


def test_transactions() -> None:
    async def main() -> None:
        async with (
            server() as srv,
            stompbox.connect(url(srv)) as client,
            client.subscribe("/queue/tx") as sub,
        ):
            async with client.transaction() as tx:
                await tx.send("/queue/tx", "committed")
                await client.send("/queue/tx", "also", transaction=tx)
                with pytest.raises(TimeoutError):
                    await sub.get(0.2)
            assert [(await sub.get(5)).text for _ in range(2)] == ["committed", "also"]
            with pytest.raises(RuntimeError):
                async with client.transaction() as tx:
                    await tx.send("/queue/tx", "aborted")
                    raise RuntimeError("fail inside")
            await client.send("/queue/tx", "plain")
            assert (await sub.get(5)).text == "plain"

    run(main())


def test_unsubscribe_on_exit() -> None:
    async def main() -> None:
        async with server() as srv, stompbox.connect(url(srv)) as client:
            async with client.subscribe("/queue/u"):
                pass
            await client.send("/queue/u", "waits", receipt=True)
            assert srv.broker.queue_depth("/queue/u") == 1

    run(main())


def test_iteration_ends_cleanly_on_close() -> None:
    async def main() -> None:
        async with server() as srv:
            client = stompbox.connect(url(srv))
            await client.open()
            sub = client.subscribe("/topic/t")
            await sub.__aenter__()
            await client.send("/topic/t", "one")
            received = []

            async def consume() -> None:
                async for message in sub:
                    received.append(message.text)
                    await client.close()

            await asyncio.wait_for(consume(), 5)
            assert received == ["one"]

    run(main())


def test_connect_failures() -> None:
    async def main() -> None:
        port = free_port()
        with pytest.raises(stompbox.ConnectFailed, match="cannot reach"):
            await stompbox.connect(f"stomp://127.0.0.1:{port}/").open()
        security = SecurityConfig(users={"alice": hash_password("secret")})
        async with server(security=security) as srv:
            with pytest.raises(stompbox.ConnectFailed, match="authentication failed") as info:
                await stompbox.connect(f"stomp://alice:wrong@127.0.0.1:{srv.port}/").open()
            assert info.value.frame is not None
            async with stompbox.connect(f"stomp://alice:secret@127.0.0.1:{srv.port}/") as ok:
                assert ok.session

    run(main())


async def silent_broker(heartbeat: str) -> tuple[asyncio.Server, int]:
    """Answers CONNECT, promises heart-beats, then never sends another byte."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\0")
        writer.write(f"CONNECTED\nversion:1.2\nheart-beat:{heartbeat}\n\n\0".encode())
        await writer.drain()
        with contextlib.suppress(Exception):
            while await reader.read(1024):
                pass
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


def test_dead_broker_is_detected_by_heartbeats() -> None:
    async def main() -> None:
        srv, port = await silent_broker("100,0")
        async with srv:
            client = stompbox.connect(f"stomp://127.0.0.1:{port}/", heartbeat=(0, 100))
            await client.open()
            sub = client.subscribe("/topic/x")
            sub.active = True
            client._subscriptions[sub.id] = sub  # no receipt from this fake broker
            started = asyncio.get_running_loop().time()
            with pytest.raises(stompbox.ConnectionLost, match="heart-beat"):
                await sub.get(5)
            assert asyncio.get_running_loop().time() - started < 2
            with pytest.raises(stompbox.ConnectionLost):
                await client.send("/topic/x", "too late")
            await client.close()

    run(main())


def test_client_sends_heartbeats() -> None:
    async def main() -> None:
        async with (
            server(heartbeat=(0, 200), heartbeat_floor=100) as srv,
            stompbox.connect(url(srv), heartbeat=(100, 0)) as client,
        ):
            await asyncio.sleep(1.0)  # the server would close a silent client after 0.4 s
            async with client.subscribe("/queue/hb") as sub:
                await client.send("/queue/hb", "alive")
                assert (await sub.get(5)).text == "alive"

    run(main())


def test_reconnect_resubscribes() -> None:
    async def main() -> None:
        port = free_port()
        broker = Broker()
        config = ServerConfig(port=port, ws_port=0)
        first = TcpServer(broker, config)
        await first.start()
        client = stompbox.connect(f"stomp://127.0.0.1:{port}/", reconnect=True, backoff=(0.05, 0.2))
        await client.open()
        sub = client.subscribe("/topic/news")
        await sub.__aenter__()
        await first.stop()  # the server goes away: every connection is closed
        second = TcpServer(Broker(), config)
        await second.start()
        try:
            for _ in range(100):  # wait for the client to come back and re-subscribe
                if second.broker.sessions and any(
                    s.subscriptions for s in second.broker.sessions.values()
                ):
                    break
                await asyncio.sleep(0.05)
            async with stompbox.connect(f"stomp://127.0.0.1:{port}/") as other:
                await other.send("/topic/news", "after the restart", receipt=True)
            assert (await sub.get(5)).text == "after the restart"
            await client.send("/topic/news", "and sending works", receipt=True)
        finally:
            await client.close()
            await second.stop()

    run(main())


@pytest.mark.parametrize("scheme", ["stomps", "wss"])
def test_tls(scheme: str) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def main() -> None:
        ws_port = free_port()
        config = ServerConfig(port=0, ws_port=ws_port)
        async with start_server(config) as srv:
            upstream = srv.port if scheme == "stomps" else ws_port

            # A TLS terminator in front of the plain listener, as an operator would run.
            async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)

                async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                    with contextlib.suppress(Exception):
                        while data := await src.read(65536):
                            dst.write(data)
                            await dst.drain()
                    with contextlib.suppress(Exception):
                        dst.close()

                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

            tls = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=server_ctx)
            port = tls.sockets[0].getsockname()[1]
            path = "/ws" if scheme == "wss" else "/"
            async with (
                tls,
                stompbox.connect(f"{scheme}://127.0.0.1:{port}{path}", ssl=client_ctx) as client,
                client.subscribe("/queue/tls") as sub,
            ):
                await client.send("/queue/tls", "secret", receipt=True)
                assert (await sub.get(5)).text == "secret"

    run(main())


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port", "login", "vhost", "path"),
    [
        (
            "stomp://guest:guest@localhost:61613/vhost",
            "stomp",
            "localhost",
            61613,
            "guest",
            "vhost",
            "",
        ),
        ("stomp://localhost", "stomp", "localhost", 61613, None, "/", ""),
        ("stomp://h/%2F", "stomp", "h", 61613, None, "/", ""),
        ("stomps://h", "stomps", "h", 61614, None, "/", ""),
        ("ws://u:p@h:15674/ws", "ws", "h", 15674, "u", "/", "/ws"),
        ("wss://h/stomp?vhost=prod", "wss", "h", 15673, None, "prod", "/stomp?vhost=prod"),
    ],
)
def test_parse_url(
    text: str, scheme: str, host: str, port: int, login: str | None, vhost: str, path: str
) -> None:
    parsed = parse_url(text)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.login, parsed.vhost, parsed.path) == (
        scheme,
        host,
        port,
        login,
        vhost,
        path,
    )


@pytest.mark.parametrize("text", ["http://h", "stomp://", "stomp://h:notaport"])
def test_bad_urls(text: str) -> None:
    with pytest.raises(ValueError):
        parse_url(text)


def test_bodies_that_cannot_be_sent() -> None:
    async def main() -> None:
        async with server() as srv, stompbox.connect(url(srv)) as client:
            with pytest.raises(TypeError, match="cannot send a object"):
                await client.send("/queue/a", object())

    run(main())
