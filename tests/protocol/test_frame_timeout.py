"""A frame must end within ``frame_timeout`` of beginning: a client cannot park the
server on half a frame. Time is an argument, so nothing here waits."""

from __future__ import annotations

from stompbox.protocol import Frame, FrameTimeout, ServerConnection

from .test_connections import server_reply


def connected(now: float = 0.0, frame_timeout: float | None = 30.0) -> ServerConnection:
    server = ServerConnection(now=now, frame_timeout=frame_timeout, heartbeat=(0, 0))
    server.receive_data(b"CONNECT\naccept-version:1.2\nhost:x\n\n\0", now)
    [connect] = list(server.events())
    assert isinstance(connect, Frame)
    server.accept(now, session="s")
    server.data_to_send()
    return server


def receive(server: ServerConnection, data: bytes, now: float) -> list[object]:
    server.receive_data(data, now)
    return list(server.events())


def test_a_partial_frame_times_out_with_an_error_naming_the_limit() -> None:
    server = connected()
    assert server.next_deadline() is None  # nothing buffered, no heart-beats: no timer
    partial = b"SEND\ndestination:/queue/a\ncontent-length:100\n\nhalf"
    receive(server, partial, now=10.0)
    assert server.buffered_input == len(partial)
    assert server.next_deadline() == 40.0
    assert server.tick(39.9) is None
    result = server.tick(40.0)
    assert isinstance(result, FrameTimeout)
    assert result == FrameTimeout(waited=30.0, buffered=len(partial))
    [error] = server_reply(server)
    assert error.get("message") == "frame timeout"
    assert b"frame_timeout is 30 s" in error.body
    assert server.closed


def test_more_bytes_of_the_same_frame_do_not_restart_the_clock() -> None:
    server = connected()
    receive(server, b"SEND\ndestination:/queue/a\ncontent-length:100\n\n", now=10.0)
    for second in range(11, 40):
        receive(server, b"x", now=float(second))  # a trickle: still the same frame
    assert server.next_deadline() == 40.0
    assert isinstance(server.tick(40.0), FrameTimeout)


def test_completed_frames_restart_the_clock_for_the_next_one() -> None:
    """A publisher streaming big frames always ends a read mid-frame; each completed
    frame shows progress, so it is never timed out."""
    server = connected()
    frame = b"SEND\ndestination:/queue/a\ncontent-length:10\n\n0123456789\0"
    receive(server, frame[:20], now=0.0)
    for second in range(1, 100):
        # the rest of one frame and the start of the next, every second
        [done] = receive(server, frame[20:] + frame[:20], now=float(second))
        assert isinstance(done, Frame)
        assert server.tick(float(second)) is None
    assert server.next_deadline() == 99.0 + 30.0


def test_heart_beats_and_whole_frames_leave_no_deadline() -> None:
    server = connected()
    receive(server, b"\n\nSEND\ndestination:/queue/a\n\nx\0\n", now=5.0)
    assert server.buffered_input == 0
    assert server.next_deadline() is None
    assert server.tick(1000.0) is None


def test_off_when_none() -> None:
    server = connected(frame_timeout=None)
    receive(server, b"SEND\ndestination:/queue/a\n", now=1.0)
    assert server.next_deadline() is None
    assert server.tick(10_000.0) is None
