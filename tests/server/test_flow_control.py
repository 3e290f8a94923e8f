"""The broker's outbound path under clients that stop reading, against a real process.

Each test runs ``stompbox serve`` as a child process and talks to it through plain
sockets, so that the test decides when (and whether) a client reads. What a client that
stops reading may cost is bounded by the ``outbound_buffer`` setting plus what the
kernel buffers, and these tests hold the broker to that: in a crash, an auto-ack message
may be lost only while it sits in the connection's output buffer; a stalled consumer of
a queue holds no more of it than its buffers take; and RECEIPTs or topic messages
nobody reads do not grow the broker's memory.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..support import free_port, stompbox, wait_for_port
from .helpers import RawClient

KiB = 1024
MiB = 1024 * KiB

SMALL_RCVBUF = 4 * KiB
"""SO_RCVBUF of the clients that stop reading (Linux doubles it to 8 KiB)."""
OVERSHOOT = 64 * KiB
"""What a writer may put past the ``outbound_buffer`` high-water mark in one go before
it sees that the buffer is full: one loop turn's worth of frames."""
RSS_CEILING = 100 * MiB
"""The broker's resident memory may not pass this while one client floods it."""

BACKLOG = 20_000
BODY = b"m" * KiB


# -- the broker process ----------------------------------------------------------------


def _status(pid: int, field: str) -> int:
    """A memory figure of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * KiB
    raise RuntimeError(f"no {field} for process {pid}")


class BrokerProcess:
    """``stompbox serve`` in a child process; its output goes to a log file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            stompbox("serve", "--config", str(config), "--port", str(self.port), "--ws-port", "0"),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port)
        except BaseException:
            self.stop()
            raise

    def rss(self) -> int:
        return _status(self.process.pid, "VmRSS")

    def peak_rss(self) -> int:
        """The most the process has held resident since it started."""
        return _status(self.process.pid, "VmHWM")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flushing of what the process has buffered."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        self.kill()
        self._log.close()


@contextmanager
def broker(config: Path) -> Iterator[BrokerProcess]:
    process = BrokerProcess(config, config.with_suffix(".log"))
    try:
        yield process
    finally:
        process.stop()


def write_config(
    tmp_path: Path, *, outbound_buffer: int | None = None, store: bool = False
) -> Path:
    lines = ["[server]"]
    if outbound_buffer is not None:
        lines.append(f"outbound_buffer = {outbound_buffer}")
    if store:
        lines += ["[broker]", f'store = "{tmp_path / "messages.db"}"']
    config = tmp_path / "stompbox.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


# -- clients ---------------------------------------------------------------------------


def send_frame(command: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = "".join(f"{name}:{value}\n" for name, value in headers.items())
    return f"{command}\n{head}\n".encode() + body + b"\0"


def subscribe(client: RawClient, destination: str, ack: str = "auto", **extra: str) -> None:
    headers = {"id": "1", "destination": destination, "ack": ack, **extra}
    client.send(send_frame("SUBSCRIBE", headers))


def fill_queue(port: int, destination: str, *, persistent: bool) -> None:
    """Put ``BACKLOG`` messages numbered by a ``seq`` header in ``destination``, and wait
    for the RECEIPT of the last, so that all of them are in (and on disk if persistent)."""
    producer = RawClient(port)
    producer.connect()
    extra = {"persistent": "true"} if persistent else {}
    batch: list[bytes] = []
    for seq in range(BACKLOG):
        headers = {"destination": destination, "seq": str(seq), **extra}
        if seq == BACKLOG - 1:
            headers["receipt"] = "filled"
        batch.append(send_frame("SEND", headers, BODY))
        if len(batch) == 1000:
            producer.send(b"".join(batch))
            batch.clear()
    producer.send(b"".join(batch))
    receipt = producer.next_frame(timeout=60)
    assert receipt.command == "RECEIPT", receipt
    producer.close()


def read_messages(
    client: RawClient,
    seqs: set[int],
    *,
    count: int | None = None,
    marker: bool = False,
    idle: float = 3.0,
    timeout: float = 30.0,
) -> str:
    """Read MESSAGE frames into ``seqs`` (their ``seq`` headers) until ``count`` of them
    were read in this call, a message without ``seq`` arrived (with ``marker``), nothing
    came for ``idle`` seconds, the connection ended, or ``timeout``; return which."""
    deadline = time.monotonic() + timeout
    read = 0
    while True:
        while client.frames:
            frame = client.frames.pop(0)
            if frame.command != "MESSAGE":
                continue
            seq = frame.get("seq")
            if seq is None:
                if marker:
                    return "marker"
                continue
            seqs.add(int(seq))
            read += 1
            if count is not None and read >= count:
                return "count"
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        client.sock.settimeout(min(idle, left))
        try:
            data = client.sock.recv(256 * KiB)
        except TimeoutError:
            if left <= idle:
                return "timeout"
            return "idle"
        except ConnectionResetError:
            return "eof"
        if not data:
            return "eof"
        client.parser.feed(data)
        client.frames.extend(client.parser.frames())


def kernel_buffering(rcvbuf: int) -> int:
    """Bytes the kernel takes on loopback from a sender whose peer has ``rcvbuf`` and
    never reads: the receiver's buffer plus the sender's (autotuned) send buffer.

    On the machine these tests were written on, 2,990,080 bytes with a 4 KiB SO_RCVBUF,
    mostly the sender's send buffer, which grows towards tcp_wmem's maximum (4 MiB).
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.socket() as reader:
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            reader.connect(listener.getsockname())
            writer, _ = listener.accept()
            with writer:
                writer.setblocking(False)
                chunk = b"x" * (64 * KiB)
                total = 0
                quiet_since = time.monotonic()
                while time.monotonic() - quiet_since < 0.3:
                    try:
                        total += writer.send(chunk)
                        quiet_since = time.monotonic()
                    except BlockingIOError:
                        time.sleep(0.01)
                return total


class Flood(threading.Thread):
    """Sends ``chunk`` over and over on a connected client, without ever reading, until
    a send blocks for ``block_timeout`` seconds, the connection fails, ``limit`` bytes
    went out, ``duration`` passed, or :meth:`stop`."""

    def __init__(
        self,
        client: RawClient,
        chunk: bytes,
        *,
        limit: int,
        duration: float,
        block_timeout: float = 2.0,
    ) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.chunk = chunk
        self.limit = limit
        self.duration = duration
        self.block_timeout = block_timeout
        self.sent = 0
        self.outcome = "running"
        """What ended the flood, once it ended."""
        self._lock = threading.Lock()

    def run(self) -> None:
        sock = self.client.sock
        sock.settimeout(self.block_timeout)
        deadline = time.monotonic() + self.duration
        while self.outcome == "running":
            if self.sent >= self.limit:
                self._end(f"sent all {self.sent // MiB} MiB")
            elif time.monotonic() > deadline:
                self._end(f"ran for {self.duration:.0f} s")
            else:
                try:
                    sock.sendall(self.chunk)
                except TimeoutError:
                    self._end(f"blocked for {self.block_timeout:.0f} s")
                except OSError as exc:
                    self._end(f"disconnected ({exc!r})")
                else:
                    self.sent += len(self.chunk)

    def stop(self, reason: str = "stopped") -> None:
        """End the flood before its next send; ``reason`` is its outcome unless it had
        ended already."""
        self._end(reason)

    def _end(self, outcome: str) -> None:
        with self._lock:
            if self.outcome == "running":
                self.outcome = outcome


def watch_memory(server: BrokerProcess, flood: Flood, *, settle: float = 1.0) -> int:
    """Run ``flood`` while watching the broker's memory; stop it as soon as the broker
    passes :data:`RSS_CEILING`, else let it end and give the broker ``settle`` seconds
    to take what the kernel still holds. Returns the broker's peak RSS."""
    flood.start()
    try:
        while flood.is_alive():
            if server.rss() > RSS_CEILING:
                flood.stop(f"stopped when the broker passed {RSS_CEILING // MiB} MiB")
                break
            time.sleep(0.02)
        else:
            end = time.monotonic() + settle
            while time.monotonic() < end and server.rss() <= RSS_CEILING:
                time.sleep(0.02)
        return server.peak_rss()
    finally:
        flood.stop()
        server.kill()  # unblocks a send in progress
        flood.join(10)


# -- 1. an auto-ack backlog is not consumed before it reaches a socket -------------------


def stall_then_kill(tmp_path: Path, ack: str) -> tuple[set[int], set[int]]:
    """Fill a persistent queue, let a client with a small receive buffer read 21 of it
    and stall, ``kill -9`` the broker, and restart it on the same store.

    Returns the ``seq`` numbers the stalled client got (including what the kernel still
    had for it after the kill) and those a client gets from the restarted broker.
    """
    config = write_config(tmp_path, outbound_buffer=256 * KiB, store=True)
    before: set[int] = set()
    with broker(config) as first:
        fill_queue(first.port, "/queue/x", persistent=True)
        stalled = RawClient(first.port, rcvbuf=SMALL_RCVBUF)
        stalled.connect()
        subscribe(stalled, "/queue/x", ack)
        assert read_messages(stalled, before, count=21, idle=20, timeout=20) == "count"
        time.sleep(1.0)
        first.kill()
        # what reached the kernel is not lost: the stalled client still reads it
        assert read_messages(stalled, before, idle=5, timeout=20) == "eof"
        stalled.close()

    after: set[int] = set()
    with broker(config) as second:
        drain = RawClient(second.port)
        drain.connect()
        # the queue is FIFO: a marker sent now comes after everything the store held
        drain.send(send_frame("SEND", {"destination": "/queue/x", "receipt": "m"}, b"end"))
        assert drain.next_frame(timeout=10).command == "RECEIPT"
        subscribe(drain, "/queue/x")
        assert read_messages(drain, after, marker=True, idle=30, timeout=30) == "marker"
        drain.close()
    return before, after


def test_auto_ack_backlog_survives_kill_of_broker_with_stalled_consumer(tmp_path: Path) -> None:
    before, after = stall_then_kill(tmp_path, "auto")
    # Only what sat in the broker's own output buffer when it died may be gone:
    # outbound_buffer (256 KiB) plus one write's overshoot. Each MESSAGE frame is
    # longer than its 1 KiB body, so dividing by the body size over-counts them.
    allowed = (256 * KiB + OVERSHOOT) // len(BODY)
    lost = BACKLOG - len(before | after)
    assert lost <= allowed, (
        f"{lost} of {BACKLOG} persistent messages lost after kill -9: the stalled client "
        f"read {len(before)}, the restarted broker still had {len(after - before)} more; "
        f"at most {allowed} (256 KiB outbound_buffer + {OVERSHOOT // KiB} KiB) may be lost"
    )


def test_client_ack_backlog_survives_kill_of_broker_with_stalled_consumer(
    tmp_path: Path,
) -> None:
    before, after = stall_then_kill(tmp_path, "client-individual")
    assert len(before) >= 21
    missing = set(range(BACKLOG)) - after
    assert not missing, f"{len(missing)} unacknowledged persistent messages lost after kill -9"


# -- 2. a consumer that stops reading does not take a queue's backlog with it ------------


def test_stalled_consumer_leaves_the_backlog_to_a_live_one(tmp_path: Path) -> None:
    outbound = 256 * KiB
    with broker(write_config(tmp_path, outbound_buffer=outbound)) as server:
        fill_queue(server.port, "/queue/y", persistent=False)
        stalled = RawClient(server.port, rcvbuf=SMALL_RCVBUF)
        stalled.connect()
        subscribe(stalled, "/queue/y")
        readable, _, _ = select.select([stalled.sock], [], [], 10)
        assert readable, "the first consumer got nothing"
        time.sleep(0.5)  # let the broker fill whatever it will give the stalled consumer

        live = RawClient(server.port)
        live.connect()
        subscribe(live, "/queue/y")
        received: set[int] = set()
        read_messages(live, received, count=BACKLOG, idle=3, timeout=20)

    # The stalled consumer may hold what fits in its connection's output buffer, one
    # write's overshoot, and what the kernel buffers on loopback for a reader with
    # SMALL_RCVBUF (measured now, with a quarter more for autotuning's variance). Frames
    # are longer than their bodies, so dividing by the body size over-counts them.
    kernel = kernel_buffering(SMALL_RCVBUF)
    allowed = (outbound + OVERSHOOT + kernel * 5 // 4) // len(BODY)
    assert len(received) >= BACKLOG - allowed, (
        f"the live consumer got {len(received)} of {BACKLOG} messages; the stalled one may "
        f"hold at most {allowed} (outbound_buffer {outbound}, kernel buffering {kernel} bytes)"
    )


# -- 3. RECEIPTs a client does not read do not pile up in the broker ---------------------


def test_unread_receipts_do_not_grow_broker_memory(tmp_path: Path) -> None:
    with broker(write_config(tmp_path)) as server:
        baseline = server.rss()
        client = RawClient(server.port, rcvbuf=SMALL_RCVBUF)
        client.connect()
        receipt = "r" * 8000
        chunk = b"".join(
            send_frame("SEND", {"destination": "/topic/nobody", "receipt": f"{i}{receipt}"})
            for i in range(64)
        )
        flood = Flood(client, chunk, limit=1536 * MiB, duration=20)
        peak = watch_memory(server, flood)
    assert peak < RSS_CEILING, (
        f"broker RSS reached {peak / MiB:.0f} MiB (baseline {baseline / MiB:.0f} MiB) after "
        f"{flood.sent / MiB:.0f} MiB of SENDs asking for RECEIPTs nobody reads "
        f"(flood ended: {flood.outcome})"
    )


# -- 4. big topic messages for a subscriber that does not read ---------------------------


def test_big_topic_messages_for_a_stalled_subscriber_do_not_grow_broker_memory(
    tmp_path: Path,
) -> None:
    with broker(write_config(tmp_path)) as server:
        baseline = server.rss()
        subscriber = RawClient(server.port, rcvbuf=SMALL_RCVBUF)
        subscriber.connect()
        subscribe(subscriber, "/topic/big", receipt="subscribed")
        assert subscriber.next_frame().command == "RECEIPT"

        publisher = RawClient(server.port)
        publisher.connect()
        body = b"b" * (4 * MiB - 4 * KiB)  # big, well under max_body_size
        message = send_frame("SEND", {"destination": "/topic/big"}, body)
        flood = Flood(publisher, message, limit=1000 * len(message), duration=20)
        peak = watch_memory(server, flood)
    assert peak < RSS_CEILING, (
        f"broker RSS reached {peak / MiB:.0f} MiB (baseline {baseline / MiB:.0f} MiB) after "
        f"{flood.sent // len(message)} messages of 4 MiB to a subscriber that does not read "
        f"(flood ended: {flood.outcome})"
    )
