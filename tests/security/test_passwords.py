"""UsersFile and hash_password: the users file's format, what it refuses, and verification."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from argon2 import PasswordHasher, extract_parameters

from stompbox.security.passwords import UsersFile, hash_password
from stompbox.security.principal import AuthenticationFailed, Principal

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""Far below any safe cost: the tests check behaviour, not strength."""


def cheap_hash(password: str) -> str:
    return hash_password(password, hasher=CHEAP)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "users.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_hash_password_defaults_to_argon2id_with_the_library_parameters() -> None:
    hashed = hash_password("secret")
    parameters = extract_parameters(hashed)
    library = PasswordHasher()
    assert hashed.startswith("$argon2id$")
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (
        library.time_cost,
        library.memory_cost,
        library.parallelism,
    )


def test_each_hash_has_its_own_salt() -> None:
    assert cheap_hash("secret") != cheap_hash("secret")


def test_round_trip_through_a_file_with_comments_and_roles(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# operators\n"
        f"alice:{cheap_hash('wonderland')}:admin, ops\n"
        "\n"
        f"bob:{cheap_hash('builder')}\n",
    )
    users = UsersFile.load(path, hasher=CHEAP)
    assert users.names() == ["alice", "bob"]
    assert users.verify("alice", "wonderland") == Principal(
        "alice", frozenset({"admin", "ops"}), via="users-file"
    )
    assert users.verify("bob", "builder") == Principal("bob", frozenset(), via="users-file")


def test_wrong_password_is_refused_and_logged_as_such(tmp_path: Path) -> None:
    users = UsersFile.load(write(tmp_path, f"alice:{cheap_hash('wonderland')}\n"), hasher=CHEAP)
    with pytest.raises(AuthenticationFailed, match="wrong password for 'alice'"):
        users.verify("alice", "looking-glass")
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        users.verify("alice", "")


def test_unknown_user_costs_a_verification_too(monkeypatch: pytest.MonkeyPatch) -> None:
    users = UsersFile.from_hashes({"alice": cheap_hash("wonderland")}, hasher=CHEAP)
    verified: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, hash: str, password: str | bytes) -> bool:
        verified.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    with pytest.raises(AuthenticationFailed, match="unknown user 'mallory'"):
        users.verify("mallory", "wonderland")
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        users.verify("alice", "guess")
    assert len(verified) == 2
    unknown, known = (extract_parameters(hash) for hash in verified)
    assert unknown == known  # the same work for either answer


def test_plaintext_line_is_refused_with_file_line_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, f"# users\nalice:{cheap_hash('x')}\nbob:hunter2:admin\n")
    with pytest.raises(ValueError, match=r"users\.txt line 3: .*'bob'.*not an argon2 hash") as info:
        UsersFile.load(path)
    assert "stompbox passwd" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("alice", "expected name:argon2-hash"),
        ("alice:$2y$05$bcryptbcryptbcryptbcryptbc", "not an argon2 hash"),
        ("alice:$argon2id$v=19$broken", "damaged"),
        (":{hash}", "user name '' must"),
        ("al ice:{hash}", "user name 'al ice' must"),
        ("alice:{hash}:ad min", "role 'ad min'"),
    ],
)
def test_malformed_lines_are_refused(tmp_path: Path, line: str, problem: str) -> None:
    path = write(tmp_path, line.format(hash=cheap_hash("x")) + "\n")
    with pytest.raises(ValueError, match=problem):
        UsersFile.load(path)


def test_a_user_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"alice:{cheap_hash('a')}\nalice:{cheap_hash('b')}\n")
    with pytest.raises(ValueError, match="line 2: user 'alice' appears twice"):
        UsersFile.load(path)


def test_unreadable_file_is_a_value_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing\.txt: cannot read users file"):
        UsersFile.load(tmp_path / "missing.txt")


def test_from_hashes_refuses_plaintext_naming_the_table() -> None:
    with pytest.raises(ValueError, match=r"\[users\] 'alice': .*not an argon2 hash"):
        UsersFile.from_hashes({"alice": "secret"})


def test_set_remove_and_save_keep_comments_and_write_mode_0600(tmp_path: Path) -> None:
    path = write(tmp_path, f"# keep me\nalice:{cheap_hash('old')}:admin\nbob:{cheap_hash('b')}\n")
    path.chmod(0o644)
    users = UsersFile.load(path, hasher=CHEAP)
    users.set("alice", "new")  # roles kept
    users.set("carol", "c", roles=["ops", " dev "])
    users.remove("bob")
    users.save(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# keep me"
    assert [line.split(":")[0] for line in lines[1:]] == ["alice", "carol"]
    assert lines[2].endswith(":dev,ops")
    again = UsersFile.load(path, hasher=CHEAP)
    assert again.verify("alice", "new").roles == {"admin"}
    assert again.verify("carol", "c").roles == {"dev", "ops"}
    assert "bob" not in again
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_set_with_roles_replaces_them_and_empty_roles_clear_them() -> None:
    users = UsersFile(hasher=CHEAP)
    users.set("alice", "a", roles=["admin"])
    users.set("alice", "a", roles=["ops"])
    assert users.verify("alice", "a").roles == {"ops"}
    users.set("alice", "a", roles=[])
    assert users.verify("alice", "a").roles == frozenset()


def test_set_refuses_empty_passwords_and_bad_names() -> None:
    users = UsersFile(hasher=CHEAP)
    with pytest.raises(ValueError, match="empty password"):
        users.set("alice", "")
    for name in ("a:b", "a b", "#alice", "", "tab\there"):
        with pytest.raises(ValueError, match="user name"):
            users.set(name, "secret")
    assert users.names() == []


def test_remove_of_an_unknown_user_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        UsersFile(hasher=CHEAP).remove("nobody")


def test_older_parameters_still_verify() -> None:
    """check_needs_rehash is left alone: a hash with other parameters verifies as it is."""
    older = hash_password(
        "secret", hasher=PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    )
    users = UsersFile.from_hashes({"alice": older}, hasher=CHEAP)
    assert users.verify("alice", "secret").name == "alice"
