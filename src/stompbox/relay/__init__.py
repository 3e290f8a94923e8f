"""Relaying broker destinations to an external broker (RabbitMQ, ActiveMQ) for scale-out:
several stompbox processes share one distributed broker instead of a home-made cluster."""

from .connection import RelayConnection

__all__ = ["RelayConnection"]
