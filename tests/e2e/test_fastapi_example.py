"""examples/fastapi under uvicorn: HTTP routes publish to STOMP subscribers over a real
WebSocket, and both sides refuse whoever has no valid token."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import stompbox

from ..app.helpers import under_uvicorn
from ..support import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi" / "app.py"


def load_example() -> ModuleType:
    """A fresh copy of the example (its own StompApp), as uvicorn would import it."""
    spec = importlib.util.spec_from_file_location("fastapi_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic looks the module up there
    spec.loader.exec_module(module)
    return module


def test_an_http_post_reaches_an_authenticated_subscriber() -> None:
    example = load_example()

    async def main() -> None:
        async with (
            under_uvicorn(example.api) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
            stompbox.connect(f"ws://127.0.0.1:{port}/stomp?token=t-ada") as ada,
            ada.subscribe("/topic/news") as news,
            ada.subscribe("/user/queue/notices") as notices,
            ada.subscribe("/topic/echo") as echoes,
        ):
            bearer = {"Authorization": "Bearer t-bob"}
            answer = await http.post("/news", json={"text": "hello"}, headers=bearer)
            assert answer.status_code == 200, answer.text
            assert (await news.get(5)).json() == {"from": "bob", "text": "hello"}

            http.cookies.set("token", "t-bob")  # what a browser's sign-in would have set
            answer = await http.post("/notify/ada", json={"text": "psst"})
            assert answer.status_code == 200, answer.text
            assert (await notices.get(5)).json() == {"from": "bob", "text": "psst"}

            await ada.send("/app/echo", {"text": "me"})
            assert (await echoes.get(5)).json() == {"from": "ada", "text": "me"}
            assert example.stomp.users() == {"ada": 1}

    run(main())


def test_no_token_is_refused_on_both_sides() -> None:
    example = load_example()

    async def main() -> None:
        async with (
            under_uvicorn(example.api) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            for headers in ({}, {"Authorization": "Bearer t-forged"}):
                answer = await http.post("/news", json={"text": "spam"}, headers=headers)
                assert answer.status_code == 401
                assert answer.headers["www-authenticate"] == "Bearer"
            for query in ("", "?token=t-forged"):
                client = stompbox.connect(f"ws://127.0.0.1:{port}/stomp{query}", login="ada")
                with pytest.raises(stompbox.ConnectFailed, match="authentication required"):
                    await client.open()
            assert example.stomp.users() == {}

    run(main())
