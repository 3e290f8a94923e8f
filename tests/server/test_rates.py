"""Rates and history from samples of a real broker's counters, with the sample times
given (no clock): exact figures, bounded series, forgotten queues dropped."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from stompbox.broker import Broker, BrokerConfig, Session
from stompbox.broker.admin import BrokerAdmin
from stompbox.protocol import Frame, ServerConnection
from stompbox.server import ServerConfig
from stompbox.server.admin import AdminApi
from stompbox.server.rates import QueuePoint, Rates, RateSampler
from stompbox.server.registry import SessionRegistry

from ..support import run


class Sink:
    """A connected protocol connection for a broker session (what the server gives it)."""

    def __init__(self) -> None:
        self.connection = ServerConnection()
        self.connection.receive_data(b"CONNECT\naccept-version:1.2\nhost:x\n\n\0")
        list(self.connection.events())
        self.connection.accept()

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def fail(self, message: str, detail: str) -> None: ...


def subscribe(broker: Broker, destination: str) -> Session:
    session = broker.open_session(Sink(), "1.2")
    broker.subscribe(session, Frame("SUBSCRIBE", (("id", "1"), ("destination", destination))))
    return session


def publish(broker: Broker, destination: str, count: int) -> None:
    for _ in range(count):
        broker.publish(destination, (), b"x")


def test_rates_are_the_change_over_the_last_interval() -> None:
    broker = Broker(BrokerConfig())
    sampler = RateSampler(BrokerAdmin(broker), interval=5.0, window=60.0)
    assert sampler.rates() == Rates(0.0, 0.0)  # nothing to compare yet
    sampler.sample(1000.0)
    publish(broker, "/queue/a", 10)
    sampler.sample(1005.0)
    assert sampler.rates() == Rates(2.0, 0.0)
    assert sampler.queue_rates("/queue/a") == Rates(0.0, 0.0)  # it had no sample before
    subscribe(broker, "/queue/a")  # takes the 10 waiting
    publish(broker, "/queue/a", 5)  # delivered at once
    sampler.sample(1010.0)
    assert sampler.rates() == Rates(1.0, 3.0)
    assert sampler.queue_rates("/queue/a") == Rates(1.0, 3.0)
    assert sampler.history("/queue/a") == [
        QueuePoint(1005.0, 10, 0.0, 0.0),
        QueuePoint(1010.0, 0, 1.0, 3.0),
    ]
    assert sampler.history("/queue/none") == []


def test_series_keep_the_window_and_drop_forgotten_queues() -> None:
    broker = Broker(BrokerConfig())
    sampler = RateSampler(BrokerAdmin(broker), interval=1.0, window=3.0)
    session = subscribe(broker, "/queue/a")
    for second in range(10):
        sampler.sample(float(second))
    assert [p.at for p in sampler.history("/queue/a")] == [6.0, 7.0, 8.0, 9.0]
    assert len(sampler.totals) == 4
    broker.close_session(session)  # its queue, empty and unsubscribed, is forgotten
    sampler.sample(10.0)
    assert sampler.history("/queue/a") == []
    assert "/queue/a" not in sampler.queues
    subscribe(broker, "/queue/a")  # a new queue of the same name starts a new series
    sampler.sample(11.0)
    assert [p.at for p in sampler.history("/queue/a")] == [11.0]


def test_a_queue_made_again_between_samples_starts_over() -> None:
    broker = Broker(BrokerConfig())
    sampler = RateSampler(BrokerAdmin(broker), interval=1.0, window=10.0)
    session = subscribe(broker, "/queue/a")
    publish(broker, "/queue/a", 4)
    broker.output_written(session, True)  # their bytes went out: consumed
    sampler.sample(0.0)
    broker.close_session(session)
    subscribe(broker, "/queue/a")  # counters from 0 again: not a negative rate
    sampler.sample(1.0)
    assert sampler.queue_rates("/queue/a") == Rates(0.0, 0.0)
    assert len(sampler.history("/queue/a")) == 1


@pytest.mark.parametrize(("interval", "window"), [(0.0, 10.0), (-1.0, 10.0), (5.0, 1.0)])
def test_a_bad_interval_is_refused(interval: float, window: float) -> None:
    with pytest.raises(ValueError, match="need 0 < interval <= window"):
        RateSampler(BrokerAdmin(Broker(BrokerConfig())), interval, window)


def test_whole_histories_are_kept_for_a_bounded_number_of_queues() -> None:
    broker = Broker(BrokerConfig())
    sampler = RateSampler(BrokerAdmin(broker), interval=1.0, window=10.0, max_histories=2)
    for name in ("/queue/a", "/queue/b", "/queue/c"):
        publish(broker, name, 1)
    for second in range(5):
        publish(broker, "/queue/c", 2)
        sampler.sample(float(second))
    assert len(sampler.history("/queue/a")) == len(sampler.history("/queue/b")) == 5
    assert [p.at for p in sampler.history("/queue/c")] == [3.0, 4.0]  # enough for its rate
    assert sampler.queue_rates("/queue/c") == Rates(2.0, 0.0)
    BrokerAdmin(broker).purge("/queue/b")
    broker.close_session(subscribe(broker, "/queue/b"))  # empty and unsubscribed: forgotten
    publish(broker, "/queue/d", 1)
    for second in range(5, 8):
        sampler.sample(float(second))
    assert len(sampler.history("/queue/d")) == 3  # in the place /queue/b left
    assert len(sampler.history("/queue/c")) == 2
    assert len(sampler.history("/queue/a")) == 8


def test_the_api_samples_on_the_event_loop_it_was_made_in() -> None:
    async def main() -> None:
        broker = Broker(BrokerConfig())
        api = AdminApi(SessionRegistry(broker, ServerConfig()), interval=0.02)
        # ASGI's messages are dicts to the server, MutableMappings to httpx's types
        transport = httpx.ASGITransport(app=api)  # type: ignore[arg-type]
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://admin") as http:
                publish(broker, "/queue/a", 1)
                while True:  # a sample sees the queue, then one sees it grow
                    publish(broker, "/queue/a", 1)
                    answer = (await http.get("/api/queues/%2Fqueue%2Fa")).json()
                    if len(answer["history"]) >= 2 and answer["published_per_second"] > 0:
                        break
                    await asyncio.sleep(0.02)
                overview = (await http.get("/api/overview")).json()
                assert overview["rates"]["published_per_second"] >= 0
                assert [p["messages"] for p in answer["history"]] == sorted(
                    p["messages"] for p in answer["history"]
                )
        finally:
            await api.sampler.close()
        assert api.sampler._task is None

    run(main(), timeout=20)
