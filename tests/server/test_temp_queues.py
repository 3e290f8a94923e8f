"""Temporary queues and request/reply over real sockets, with stomp.py on both ends, as
RabbitMQ's users write it (issue 17): ``reply-to:/temp-queue/x`` on a SEND, the reply on
the implicit subscription ``/temp-queue/x``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from stompbox.broker import Broker
from stompbox.broker.memory import MESSAGE_OVERHEAD
from stompbox.server import ServerConfig

from .helpers import Listener, ServerThread, stomp_client
from .serve_process import ServeProcess


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A real ``stompbox serve`` with a bound of two temporary queues per connection."""
    config = "[broker]\nmax_temp_queues_per_session = 2\n"
    with ServeProcess(tmp_path_factory.mktemp("temp-queues"), config=config) as server:
        yield server


def responder(port: int) -> tuple[Any, Listener]:
    """A stomp.py client answering on /queue/rpc, ready once its receipt came."""
    conn, listener = stomp_client(port)
    conn.subscribe("/queue/rpc", id="rpc", receipt="ready")
    assert listener.receipts.get(timeout=5) == "ready"
    return conn, listener


def test_stomppy_request_and_reply_through_stompbox_serve(serve: ServeProcess) -> None:
    server, requests = responder(serve.port)
    client, replies = stomp_client(serve.port)
    client.send(
        "/queue/rpc", "2+2", headers={"reply-to": "/temp-queue/answers", "correlation-id": "c1"}
    )
    request = requests.get()
    reply_to = request.headers["reply-to"]
    assert reply_to.startswith("/queue/stompbox.temp.") and reply_to.endswith(".answers")
    server.send(reply_to, "4", headers={"correlation-id": request.headers["correlation-id"]})
    reply = replies.get()
    assert reply.body == "4"
    assert reply.headers["correlation-id"] == "c1"
    assert reply.headers["subscription"] == "/temp-queue/answers"
    assert reply.headers["destination"] == "/temp-queue/answers"
    client.disconnect()
    server.disconnect()


def test_another_connection_cannot_read_a_temporary_queue(serve: ServeProcess) -> None:
    server, requests = responder(serve.port)
    client, _ = stomp_client(serve.port)
    client.send("/queue/rpc", "hello", headers={"reply-to": "/temp-queue/mine"})
    reply_to = requests.get().headers["reply-to"]
    thief, stolen = stomp_client(serve.port)
    thief.subscribe(reply_to, id="steal")
    error = stolen.errors.get(timeout=5)
    assert error.headers["message"] == "access denied"
    assert reply_to in error.body
    client.disconnect()
    server.disconnect()


def test_past_the_bound_a_send_gets_error(serve: ServeProcess) -> None:
    client, listener = stomp_client(serve.port)
    for name in ("a", "b", "a"):
        client.send("/queue/sink", "x", headers={"reply-to": f"/temp-queue/{name}"})
    client.send("/queue/sink", "x", headers={"reply-to": "/temp-queue/c"})
    error = listener.errors.get(timeout=5)
    assert error.headers["message"] == "max_temp_queues_per_session limit of 2 exceeded"
    assert "/temp-queue/c" in error.body


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(ServerConfig(port=0, ws_port=0)) as running:
        yield running


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_the_queue_is_deleted_with_its_session(server: ServerThread) -> None:
    broker = server.broker
    assert isinstance(broker, Broker)
    before = broker.memory.used
    client, listener = stomp_client(server.port)
    client.subscribe(
        "/temp-queue/slow",
        id="s",
        ack="client-individual",
        headers={"prefetch-count": "1"},
        receipt="ready",
    )
    assert listener.receipts.get(timeout=5) == "ready"
    client.send("/queue/sink", "r", headers={"reply-to": "/temp-queue/slow"}, receipt="sent")
    wait_until(lambda: any(broker.temporary.holds(name) for name in broker.queue_depths()))
    [queue] = [name for name in broker.queue_depths() if broker.temporary.holds(name)]
    other, _ = stomp_client(server.port)
    for i in range(3):
        other.send(queue, "x" * 1000, receipt=f"r{i}")  # anybody may send there
    wait_until(lambda: broker.queue_depths().get(queue, (0, 0, 0))[0] == 2)  # one unacked
    assert listener.get().headers["subscription"] == "s"  # the explicit one, no other
    client.disconnect()
    wait_until(lambda: queue not in broker.queue_depths())
    assert not broker.temporary.holds(queue)
    assert broker.stats.dropped_temporary == 3
    other.disconnect()
    wait_until(lambda: not broker.sessions)
    # what is left: the request in /queue/sink, nothing of the replies
    assert broker.memory.used - before == len(b"r") + MESSAGE_OVERHEAD
