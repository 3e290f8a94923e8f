"""The pytest plugin (entry point ``stompbox``): fixtures for testing a :class:`StompApp`.

Define a ``stomp_app`` fixture returning your app; ``stomp_client`` then makes connected
in-process clients (no network) with :class:`~stompbox.app.testing.TestClient`::

    async def test_greeting(stomp_client):
        async with stomp_client(login="alice") as client, client.subscribe("/topic/hi") as sub:
            await client.send("/app/hi", {"name": "Ada"})
            assert (await sub.get(1)).json() == {"content": "Hello, Ada!"}
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from stompbox.client import Client

from .testing import TestClient

__all__ = ["stomp_client"]


@pytest.fixture
def stomp_client(
    request: pytest.FixtureRequest,
) -> Callable[..., contextlib.AbstractAsyncContextManager[Client]]:
    """A factory of connected in-process clients for the app of your ``stomp_app`` fixture."""
    app = request.getfixturevalue("stomp_app")

    @contextlib.asynccontextmanager
    async def factory(**options: Any) -> AsyncIterator[Client]:
        async with TestClient(app, **options) as client:
            yield client

    return factory
