"""The session's rules, sans-IO: a fake clock and a recording handler."""

from __future__ import annotations

from stompbox.sockjs import SockJSSession
from stompbox.sockjs.framing import CloseFrame, HeartbeatFrame, MessageFrame, OpenFrame
from stompbox.sockjs.testing import EchoHandler


def make(handler: EchoHandler | None = None, **options: float) -> tuple[SockJSSession, list[str]]:
    wakes: list[str] = []
    session = SockJSSession(
        "s",
        {},
        handler or EchoHandler(),
        now=0.0,
        heartbeat=options.get("heartbeat", 25.0),
        disconnect_delay=options.get("disconnect_delay", 5.0),
        max_queued=int(options.get("max_queued", 1000)),
    )
    assert session.attach(0.0, lambda: wakes.append("wake"))
    session.start()
    return session, wakes


def test_open_then_messages_in_one_frame_and_drain() -> None:
    session, wakes = make()
    drained: list[int] = []
    session.on_drain = lambda: drained.append(session.buffered)
    assert session.take(0.0) == OpenFrame()
    assert session.take(0.0) is None
    session.send("ab")
    session.send("c")
    assert wakes == ["wake"]  # only the first message wakes the receiver
    assert session.buffered == 3
    assert session.take(0.0) == MessageFrame(("ab", "c"))
    assert session.buffered == 0
    assert drained == [0]


def test_echo_through_deliver() -> None:
    session, _ = make()
    session.take(0.0)
    session.deliver(["x", "y"])
    assert session.take(0.0) == MessageFrame(("x", "y"))


def test_close_sends_queued_then_close_frame_again_and_again() -> None:
    handler = EchoHandler()
    session, _ = make(handler)
    session.send("last")
    session.close()
    session.close(3001, "twice")
    assert handler.closed_sessions == [session]
    assert session.take(0.0) == OpenFrame()
    assert session.take(0.0) == MessageFrame(("last",))
    assert session.take(0.0) == CloseFrame(3000, "Go away!")
    assert session.take(0.0) == CloseFrame(3000, "Go away!")
    session.send("ignored")
    assert session.buffered == 0


def test_one_receiver_at_a_time() -> None:
    session, _ = make()
    assert not session.attach(1.0, lambda: None)
    session.detach(1.0)
    assert session.attach(1.0, lambda: None)


def test_interrupted_receiver_closes_with_1002() -> None:
    handler = EchoHandler()
    session, _ = make(handler)
    session.take(0.0)
    session.detach(1.0, interrupted=True)
    assert session.closed
    assert handler.closed_sessions == [session]
    session.attach(2.0, lambda: None)
    assert session.take(2.0) == CloseFrame(1002, "Connection interrupted")


def test_heartbeat_when_attached_and_idle() -> None:
    session, wakes = make(heartbeat=10.0)
    session.take(3.0)
    assert session.next_deadline() == 13.0
    session.tick(12.0)
    assert session.take(12.0) is None
    session.tick(13.0)
    assert wakes == ["wake"]
    assert session.take(13.0) == HeartbeatFrame()
    assert session.next_deadline() == 23.0


def test_disconnect_delay_expires_a_detached_session() -> None:
    handler = EchoHandler()
    session, _ = make(handler, disconnect_delay=5.0)
    session.take(0.0)
    session.detach(1.0)
    assert session.next_deadline() == 6.0
    session.tick(5.9)
    assert not session.closed
    session.tick(6.0)
    assert session.closed and session.expired
    assert handler.closed_sessions == [session]
    assert session.next_deadline() is None


def test_queue_overflow_closes_with_4500() -> None:
    session, _ = make(max_queued=10)
    session.take(0.0)
    session.send("x" * 10)
    assert not session.closed
    session.send("y")
    assert session.closed
    assert session.buffered == 0
    assert session.take(0.0) == CloseFrame(4500, "Send buffer overflow")


def test_pause_and_resume_reading() -> None:
    session, _ = make()
    resumed: list[str] = []
    session.pause_reading()
    assert not session.reading
    session.add_read_listener(lambda: resumed.append("go"))
    session.resume_reading()
    assert session.reading and resumed == ["go"]
    session.pause_reading()
    session.add_read_listener(lambda: resumed.append("closed"))
    session.close()
    assert session.reading  # closed: nothing waits on a session that is gone
    assert resumed == ["go", "closed"]
