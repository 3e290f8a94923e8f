"""``stompbox passwd``: the users file it writes, what it prints, and what it refuses."""

from __future__ import annotations

import getpass
import io
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from stompbox.cli import main
from stompbox.security.passwords import UsersFile
from stompbox.security.principal import AuthenticationFailed

from .support import stompbox


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    """``stompbox passwd ARGS`` in this process, with ``stdin`` piped in."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["passwd", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def users_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "users.txt"


def test_echo_secret_into_the_real_command(users_path: Path) -> None:
    result = subprocess.run(
        stompbox("passwd", str(users_path), "alice", "--roles", "admin,ops"),
        input="wonderland\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "added user alice\n", "")
    assert stat.S_IMODE(users_path.stat().st_mode) == 0o600
    principal = UsersFile.load(users_path).verify("alice", "wonderland")
    assert principal.roles == {"admin", "ops"}


def test_add_change_and_delete(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(users_path)
    assert run(monkeypatch, capsys, path, "alice", "--roles", "admin", stdin="one\n") == (
        0,
        "added user alice\n",
        "",
    )
    assert run(monkeypatch, capsys, path, "bob", stdin="b\n")[1] == "added user bob\n"
    assert run(monkeypatch, capsys, path, "alice", stdin="two\n")[1] == (
        "changed password of alice\n"
    )
    users = UsersFile.load(users_path)
    assert users.verify("alice", "two").roles == {"admin"}  # kept without --roles
    with pytest.raises(AuthenticationFailed):
        users.verify("alice", "one")

    assert run(monkeypatch, capsys, path, "bob", "--delete")[1] == "deleted user bob\n"
    assert UsersFile.load(users_path).names() == ["alice"]


def test_only_the_first_line_of_stdin_is_the_password(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(monkeypatch, capsys, str(users_path), "alice", stdin="with spaces \r\nsecond\n")
    assert UsersFile.load(users_path).verify("alice", "with spaces ").name == "alice"


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_empty_password_is_refused(
    users_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: str,
) -> None:
    code, out, err = run(monkeypatch, capsys, str(users_path), "alice", stdin=stdin)
    assert (code, out, err) == (2, "", "stompbox passwd: empty password refused\n")
    assert not users_path.exists()


def test_problems_are_reported_with_exit_2(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(users_path)
    code, _, err = run(monkeypatch, capsys, path, "nobody", "--delete")
    assert code == 2
    assert err == f"stompbox passwd: no user 'nobody' in {path}\n"

    code, _, err = run(monkeypatch, capsys, path, "a:b", stdin="x\n")
    assert code == 2
    assert err.startswith("stompbox passwd: user name 'a:b' must")

    users_path.write_text("alice:plaintext\n")
    code, _, err = run(monkeypatch, capsys, path, "bob", stdin="x\n")
    assert code == 2
    assert "line 1" in err
    assert "not an argon2 hash" in err
    assert users_path.read_text() == "alice:plaintext\n"  # left as it was


def test_at_a_terminal_the_password_is_asked_twice(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["secret", "secret", "secret", "typo"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream: object = None) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["passwd", str(users_path), "alice"]) == 0
    assert prompts == ["Password for alice: ", "Again: "]
    assert main(["passwd", str(users_path), "alice"]) == 2
    assert capsys.readouterr().err == "stompbox passwd: the passwords do not match\n"
    assert UsersFile.load(users_path).verify("alice", "secret").name == "alice"


def test_dash_prints_a_users_table_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(monkeypatch, capsys, "-", "alice@example.com", stdin="secret\n")
    assert code == 0
    table = tomllib.loads(out)
    assert UsersFile.from_hashes(table).verify("alice@example.com", "secret").name == (
        "alice@example.com"
    )
    code, _, err = run(monkeypatch, capsys, "-", "alice", "--roles", "admin", stdin="x\n")
    assert code == 2
    assert "--roles need a file" in err
