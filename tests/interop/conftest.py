from __future__ import annotations

import os

import pytest

from .brokers import accepts as _listening

RABBITMQ_URL = "stomp://guest:guest@127.0.0.1:61623/"  # scripts/rabbitmq.sh's ports
RABBITMQ_WS_URL = "ws://guest:guest@127.0.0.1:15684/ws"
ACTIVEMQ_URL = "stomp://guest:guest@127.0.0.1:61633/"  # scripts/activemq.sh's port


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    """RabbitMQ's STOMP URL; these tests must run under CI, and skip elsewhere without it."""
    if not (_listening(61623) and _listening(15684)):
        message = (
            "RabbitMQ with rabbitmq_stomp and rabbitmq_web_stomp is not running on "
            "127.0.0.1:61623/15684; start it with `scripts/rabbitmq.sh start`"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (.ci/run does this under CI)")
        pytest.skip(message)
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def activemq() -> str:
    """ActiveMQ's STOMP URL; these tests must run under CI, and skip elsewhere without it.

    It accepts any login (no authentication plugin), guest/guest included.
    """
    if not _listening(61633):
        message = (
            "ActiveMQ is not running with STOMP on 127.0.0.1:61633; "
            "start it with `scripts/activemq.sh start`"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (.ci/run does this under CI)")
        pytest.skip(message)
    return ACTIVEMQ_URL


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("activemq", marks=pytest.mark.activemq),
    ],
)
def relayed(request: pytest.FixtureRequest) -> str:
    """The STOMP URL of each real broker a relay is tested against, in turn."""
    return str(request.getfixturevalue(request.param))
