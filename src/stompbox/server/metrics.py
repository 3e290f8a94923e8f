"""What ``/metrics`` shows: Prometheus metrics read at scrape time.

Everything here is read when Prometheus asks, from counters kept anyway: the broker's
:class:`~stompbox.broker.BrokerStats`, each connection's byte and receipt counts, the
registry's :class:`~stompbox.server.traffic.Traffic`. Nothing here runs per frame, and no
``prometheus_client`` metric object is touched on a frame's path (each costs a lock).
docs/management.md lists every metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from stompbox.broker import Broker

from .traffic import SAMPLE_EVERY, Latency

if TYPE_CHECKING:
    from .registry import SessionRegistry

__all__ = ["ServerMetrics", "transport_of"]


def transport_of(peer: str) -> str:
    """``ws:10.0.0.7:5123`` -> ``ws``; a bare ``host:port`` is plain TCP."""
    scheme, _, rest = peer.partition(":")
    return scheme if scheme in ("ws", "wss", "tls", "sockjs") and rest else "tcp"


class ServerMetrics:
    """A ``prometheus_client`` collector of one registry, its sessions and its broker."""

    def __init__(self, registry: SessionRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        registry = self.registry
        broker = registry.broker
        connections = GaugeMetricFamily(
            "stompbox_connections", "Open client connections", labels=["transport"]
        )
        counts: dict[str, int] = {"tcp": 0, "tls": 0, "ws": 0, "wss": 0, "sockjs": 0}
        for session in registry.sessions:
            kind = transport_of(session.peer)
            counts[kind] = counts.get(kind, 0) + 1
        for kind, count in counts.items():
            connections.add_metric([kind], count)
        yield connections
        yield GaugeMetricFamily(
            "stompbox_sessions", "Connected STOMP sessions", value=len(broker.sessions)
        )
        yield from self._messages(broker)
        yield from self._frames()
        yield from self._subscriptions(broker)
        depth = GaugeMetricFamily(
            "stompbox_queue_messages", "Messages waiting in a queue", labels=["queue"]
        )
        size = GaugeMetricFamily(
            "stompbox_queue_bytes", "Body bytes waiting in a queue", labels=["queue"]
        )
        consumers = GaugeMetricFamily(
            "stompbox_queue_consumers", "Consumers of a queue", labels=["queue"]
        )
        for name, (messages, body_bytes, count) in sorted(broker.queue_depths().items()):
            depth.add_metric([name], messages)
            size.add_metric([name], body_bytes)
            consumers.add_metric([name], count)
        yield from (depth, size, consumers)
        memory = broker.memory
        yield GaugeMetricFamily(
            "stompbox_memory_used_bytes", "Bytes held against the memory budget", value=memory.used
        )
        yield GaugeMetricFamily(
            "stompbox_memory_budget_bytes", "The memory budget", value=memory.limit
        )
        app = registry.app
        if app is not None:
            yield GaugeMetricFamily(
                "stompbox_ready",
                "1 when the application is ready (a relayed broker is up)",
                value=0 if app.readiness() else 1,
            )

    def _messages(self, broker: Broker) -> Iterator[Metric]:
        stats = broker.stats
        for name, value, text in (
            ("published", stats.published, "Messages the broker took"),
            ("delivered", stats.delivered, "MESSAGE frames handed to subscribers"),
            ("redelivered", stats.redelivered, "Messages delivered again"),
            ("dead_lettered", stats.dead_lettered, "Messages moved to a dead-letter queue"),
            ("expired", stats.expired, "Messages past their deadline, never delivered"),
            (
                "dropped_temporary",
                stats.dropped_temporary,
                "Messages left in temporary queues when their sessions closed",
            ),
            (
                "dropped_durable",
                stats.dropped_durable,
                "Topic messages a full durable subscription could not keep",
            ),
            (
                "dropped_slow_consumer",
                stats.dropped_slow_consumer,
                "Topic messages dropped for slow subscribers",
            ),
            ("producers_paused", stats.producers_paused, "Times a publisher was paused"),
        ):
            yield CounterMetricFamily(f"stompbox_messages_{name}", text, value=value)
        yield CounterMetricFamily("stompbox_acks", "ACK frames carried out", value=stats.acked)
        yield CounterMetricFamily("stompbox_nacks", "NACK frames carried out", value=stats.nacked)
        actions = CounterMetricFamily(
            "stompbox_slow_consumer_actions",
            "What the broker did about consumers that could not keep up: topic messages "
            "dropped or subscribers disconnected (slow_consumer_policy), publishers paused "
            "(queue_high_water)",
            labels=["policy", "action"],
        )
        policy = broker.config.slow_consumer_policy.value
        actions.add_metric([policy, "dropped"], stats.dropped_slow_consumer)
        actions.add_metric(["disconnect", "disconnected"], stats.disconnected_slow_consumer)
        actions.add_metric(["queue_high_water", "paused"], stats.producers_paused)
        yield actions

    def _frames(self) -> Iterator[Metric]:
        registry = self.registry
        traffic = registry.traffic
        broker = registry.broker
        received = CounterMetricFamily(
            "stompbox_frames_received", "Valid client frames, by command", labels=["command"]
        )
        for command, count in traffic.frames_in.items():
            received.add_metric([command], count)
        yield received
        bytes_in = traffic.closed_bytes_in
        bytes_out = traffic.closed_bytes_out
        receipts = traffic.closed_receipts + traffic.app_receipts
        for session in registry.sessions:
            bytes_in += session.bytes_in
            bytes_out += session.bytes_out
            receipts += session.conn.receipts_sent
        sent = CounterMetricFamily(
            "stompbox_frames_sent",
            "Frames queued for clients, by command (MESSAGE: the broker's deliveries and an "
            "application's own)",
            labels=["command"],
        )
        sent.add_metric(["CONNECTED"], traffic.connected)
        sent.add_metric(["MESSAGE"], broker.stats.delivered + traffic.app_messages)
        sent.add_metric(["RECEIPT"], receipts)
        sent.add_metric(["ERROR"], sum(traffic.errors.values()))
        yield sent
        errors = CounterMetricFamily(
            "stompbox_errors", "ERROR frames sent, by kind of their message", labels=["kind"]
        )
        for kind, count in traffic.errors.items():
            errors.add_metric([kind], count)
        yield errors
        yield CounterMetricFamily(
            "stompbox_bytes_received",
            "Bytes read from clients (frames and heart-beats)",
            value=bytes_in,
        )
        yield CounterMetricFamily(
            "stompbox_bytes_sent", "Bytes handed to client connections", value=bytes_out
        )
        yield CounterMetricFamily(
            "stompbox_reads",
            "Passes over a client's input: one per read, end of input or answered CONNECT",
            value=traffic.passes,
        )
        yield _histogram(
            "stompbox_parse_seconds",
            f"Time to turn one read into valid frames (parse and check), sampled: one pass "
            f"in {SAMPLE_EVERY} over a client's input is timed",
            traffic.parse,
        )
        yield _histogram(
            "stompbox_dispatch_seconds",
            f"Time the broker took for one frame, sampled: every frame of one pass in "
            f"{SAMPLE_EVERY} over a client's input is timed",
            traffic.dispatch,
        )

    def _subscriptions(self, broker: Broker) -> Iterator[Metric]:
        """Subscriptions by kind, and each queue's messages delivered and not yet acked
        (those of UNSUBSCRIBEd subscriptions still awaiting an ACK included)."""
        kinds = {"queue": 0, "topic": 0}
        unacked = dict.fromkeys(broker.queue_depths(), 0)
        for session in broker.sessions.values():
            for sub in session.subscriptions.values():
                kinds[sub.kind.value] += 1
                if sub.queue is not None:
                    unacked[sub.queue.name] = unacked.get(sub.queue.name, 0) + len(sub.unacked)
            for sub in session.unsubscribed.values():
                if sub.queue is not None:
                    unacked[sub.queue.name] = unacked.get(sub.queue.name, 0) + len(sub.unacked)
        subscriptions = GaugeMetricFamily(
            "stompbox_subscriptions", "Active subscriptions, by kind", labels=["kind"]
        )
        for kind, count in kinds.items():
            subscriptions.add_metric([kind], count)
        yield subscriptions
        pending = GaugeMetricFamily(
            "stompbox_queue_unacked_messages",
            "Queue messages delivered and awaiting their ACK or NACK",
            labels=["queue"],
        )
        for name, count in sorted(unacked.items()):
            pending.add_metric([name], count)
        yield pending


def _histogram(name: str, text: str, latency: Latency) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, text, buckets=latency.cumulative(), sum_value=latency.total)
