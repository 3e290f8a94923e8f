from __future__ import annotations

from collections.abc import Iterator

import pytest

from stompbox.server import ServerConfig

from .helpers import OPEN_CLIENTS, ServerThread


@pytest.fixture(autouse=True)
def close_raw_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(ServerConfig(port=0, ws_port=0)) as running:
        yield running
