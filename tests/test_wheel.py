"""What a user who is not cloning gets: ``python -m build`` makes an sdist and, from it, a
wheel; the wheel installs into a fresh virtual environment (its dependencies from the
package index, through pip's cache) and the installed ``stompbox serve`` passes a message
over STOMP and answers ``/healthz``. Takes about 30 s with a warm pip cache."""

from __future__ import annotations

import signal
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import stompbox

from .support import free_port, run, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ROOT / "src" / "stompbox" / "server" / "console"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built as ``make dist`` builds them."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("stompbox-*.whl")
    return wheel


def test_sdist_and_wheel_are_built_with_the_projects_version(dist: Path) -> None:
    assert wheel_of(dist).name == f"stompbox-{VERSION}-py3-none-any.whl"
    (sdist,) = dist.glob("stompbox-*.tar.gz")
    assert sdist.name == f"stompbox-{VERSION}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert f"stompbox-{VERSION}/pyproject.toml" in names
    assert f"stompbox-{VERSION}/src/stompbox/py.typed" in names


def test_wheel_holds_py_typed_and_the_consoles_files(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"stompbox-{VERSION}.dist-info/entry_points.txt").decode()
    assert "stompbox/py.typed" in names
    assert "stompbox = stompbox.cli:main" in entry_points
    package = ROOT / "src" / "stompbox"
    modules = {
        path.relative_to(package.parent).as_posix()
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert modules <= names, modules - names
    if CONSOLE.is_dir():  # the management console's pages, where the tree has them
        static = {
            path.relative_to(package.parent).as_posix()
            for path in CONSOLE.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert static and static <= names, static - names


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed: its ``bin``."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin = venv / "bin"
    pip = subprocess.run(
        [str(bin / "python"), "-m", "pip", "install", "--quiet", str(wheel_of(dist))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    return bin


def test_installed_package_is_the_wheels(installed: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import stompbox; print(stompbox.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed,  # not the checkout, whose src/ must not be what is imported
        timeout=60,
    ).stdout
    assert "site-packages" in where and str(installed.parent) in where
    version = subprocess.run(
        [str(installed / "stompbox"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.stdout.strip() == f"stompbox {VERSION}"


@pytest.fixture
def served(installed: Path) -> Iterator[tuple[int, int]]:
    """The installed ``stompbox serve`` on free ports: (STOMP port, management port)."""
    port, http_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            str(installed / "stompbox"),
            *("serve", "--port", str(port), "--ws-port", "0", "--http-port", str(http_port)),
        ],
        cwd=installed,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        wait_for_port(http_port)
    except OSError:
        server.kill()
        raise AssertionError(f"stompbox serve did not start: {server.communicate()[1]}") from None
    try:
        yield port, http_port
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err  # drained and stopped on SIGTERM


def test_installed_serve_passes_a_message_and_answers_healthz(served: tuple[int, int]) -> None:
    port, http_port = served

    async def main() -> None:
        async with stompbox.connect(f"stomp://127.0.0.1:{port}/") as client:
            assert client.server == f"stompbox/{VERSION}"
            async with client.subscribe("/queue/wheel") as messages:
                await client.send("/queue/wheel", "from the wheel", receipt=True)
                message = await messages.get(10)
            assert message.text == "from the wheel"

    run(main())
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=10) as answer:
        assert answer.status == 200
        assert answer.read() == b"ok\n"
