"""What a WebSocket peer can make the listener hold: a frame on its way is bounded before
CONNECT as TCP's bytes are, charged to the memory budget, and timed out when it stalls."""

from __future__ import annotations

import struct

from stompbox.protocol import FrameParser
from stompbox.server import ServerConfig, start_server

from ..support import free_port, run
from .test_websocket import CONNECT, RawPeer, wait_until

KiB = 1024
MiB = 1024 * KiB


def frame_head(size: int) -> bytes:
    """A masked text frame's head announcing ``size`` bytes, mask all zeroes (so that
    the payload goes as it is)."""
    return struct.pack("!BBQ", 0x81, 0x80 | 127, size) + b"\0\0\0\0"


async def stomp_frame(peer: RawPeer) -> tuple[str, str]:
    """The server's next STOMP frame over WebSocket: (command, message header)."""
    _, payload = await peer.next_frame()
    parser = FrameParser(None)
    parser.feed(payload)
    [frame] = parser.frames()
    return frame.command, frame.get("message") or ""


def test_before_connect_a_websocket_frame_is_bounded_as_tcp_bytes_are() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=free_port(), shutdown_grace=1.0)
        async with start_server(config) as server:
            peers = []
            for _ in range(20):  # each announces 5 MiB and sends 256 KiB of it
                peer = await RawPeer.open(server.ws_port)
                peer.writer.write(peer.request())
                await peer.response()
                peer.writer.write(frame_head(5 * MiB) + b"x" * (256 * KiB))
                peers.append(peer)
            for peer in peers:
                assert await stomp_frame(peer) == (
                    "ERROR",
                    "max_frame_size limit of 16384 exceeded",
                )
                assert await peer.ended()
                await peer.close()
            await wait_until(lambda: not server.connections)
            assert server.broker.memory.used == 0

    run(main())


def test_a_stalled_websocket_frame_is_charged_then_timed_out() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=free_port(), frame_timeout=1.0, shutdown_grace=1.0)
        async with start_server(config) as server:
            peer = await RawPeer.open(server.ws_port)
            peer.writer.write(peer.request())
            await peer.response()
            peer.writer.write(peer.frame(CONNECT))
            assert (await stomp_frame(peer))[0] == "CONNECTED"
            peer.writer.write(
                frame_head(1 * MiB) + b"SEND\ndestination:/queue/a\n\n" + b"x" * 200_000
            )
            await wait_until(lambda: server.broker.memory.used >= 200_000)
            assert await stomp_frame(peer) == ("ERROR", "frame timeout")
            assert await peer.ended()
            await peer.close()
            await wait_until(lambda: not server.connections)
            assert server.broker.memory.used == 0

    run(main())


def test_whole_websocket_frames_leave_nothing_charged() -> None:
    async def main() -> None:
        config = ServerConfig(port=0, ws_port=free_port(), frame_timeout=0.5)
        async with start_server(config) as server:
            peer = await RawPeer.open(server.ws_port)
            peer.writer.write(peer.request())
            await peer.response()
            peer.writer.write(peer.frame(CONNECT))
            assert (await stomp_frame(peer))[0] == "CONNECTED"
            send = peer.frame(b"SEND\ndestination:/topic/a\nreceipt:r\n\n" + b"y" * 100_000 + b"\0")
            for index in range(0, len(send), 1000):  # a byte stream in small pieces
                peer.writer.write(send[index : index + 1000])
                await peer.writer.drain()
            assert (await stomp_frame(peer))[0] == "RECEIPT"
            assert server.broker.memory.used == 0
            await peer.close()

    run(main())
