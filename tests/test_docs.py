"""The ```python blocks of README.md and docs/app.md compile, and run.

Which blocks run, by one rule: every block runs, except those whose first line is a
``# not run: <why>`` comment (a broker on localhost, say). A block is run as a module of
its own; a block that defines ``test_*`` functions is a test file, run by pytest in a
subprocess with the installed plugins (stompbox's ``stomp_client``, anyio's marker), as a
reader would run it. The FastAPI block also answers HTTP requests, with and without a token.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import run

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "docs/app.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks() -> list[Any]:
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2  # the block's first line of code
            found.append(pytest.param(match.group(1), id=f"{doc}:{line}"))
    return found


def execute(code: str, name: str) -> dict[str, Any]:
    """Run a block as a module (registered, as dataclasses and pydantic expect)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(code, name, "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module.__dict__


@pytest.mark.parametrize("code", blocks())
def test_python_block_runs(code: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    name = re.sub(r"\W", "_", request.node.callspec.id)
    compile(code, name, "exec")
    if code.startswith("# not run:"):
        return
    if re.search(r"^(async )?def test_", code, re.MULTILINE):
        (tmp_path / f"test_{name}.py").write_text(code)
        outcome = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert outcome.returncode == 0, outcome.stdout + outcome.stderr
        assert " passed" in outcome.stdout
        return
    namespace = execute(code, name)
    if "api" in namespace and "current_user" in namespace:
        check_fastapi_block(namespace["api"])


def check_fastapi_block(api: Any) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://docs") as http:
            refused = await http.post("/news", json={"text": "hi"})
            assert refused.status_code == 401
            bearer = {"Authorization": "Bearer t-ada"}
            sent = await http.post("/news", json={"text": "hi"}, headers=bearer)
            assert sent.json() == {"sent": True}

    run(main())


def test_every_doc_has_python_blocks() -> None:
    ids = [str(param.id) for param in blocks()]
    for doc in DOCS:
        assert any(id.startswith(f"{doc}:") for id in ids), doc
