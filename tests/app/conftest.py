"""Fixtures of the application tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["memory", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each test runs in process (TestClient) and over a real WebSocket connection."""
    return str(request.param)
