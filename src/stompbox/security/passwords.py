"""Users and their argon2id password hashes: the users file and its verifier.

The file is line based, like htpasswd: ``name:$argon2id$...[:role1,role2]``, with ``#``
comments and blank lines. Only hashes are accepted, never plaintext: ``stompbox passwd``
writes the lines. Verifying is slow on purpose (that is what makes a stolen file costly to
crack), so callers run :meth:`UsersFile.verify` in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from .principal import AuthenticationFailed, Principal

__all__ = ["UsersFile", "hash_password"]

_ARGON2_PREFIXES = ("$argon2id$", "$argon2i$", "$argon2d$")
_DUMMY_HASHES: dict[tuple[object, ...], str] = {}


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    """``password`` as an argon2id hash with a fresh salt.

    The default hasher is argon2-cffi's: RFC 9106's low-memory profile, 64 MiB and three
    passes over it on four lanes, about 50-150 ms a hash on a current CPU. A cheaper
    ``hasher`` is for tests only.
    """
    return (hasher or PasswordHasher()).hash(password)


@dataclass(slots=True)
class _User:
    name: str
    password_hash: str
    roles: frozenset[str]

    def line(self) -> str:
        roles = ",".join(sorted(self.roles))
        return f"{self.name}:{self.password_hash}" + (f":{roles}" if roles else "")


class UsersFile:
    """Users by name, each with an argon2 hash and roles, kept in the order of the file.

    Comments and blank lines survive :meth:`save`, so that ``stompbox passwd`` edits a file
    a person also edits. Hashes made with other argon2 parameters than the current defaults
    (what argon2's ``check_needs_rehash`` would report) still verify and are left as they
    are: the server only reads the file; ``stompbox passwd`` rehashes a password it sets.
    """

    def __init__(self, *, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._users: dict[str, _User] = {}
        self._lines: list[str | _User] = []  # comments and blank lines as read, and users

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, hasher: PasswordHasher | None = None
    ) -> UsersFile:
        """Read a users file; ``ValueError`` naming the file (and the line) if it cannot be
        read or a line is not ``name:argon2-hash[:roles]``."""
        try:
            text = Path(path).read_text(encoding="utf-8-sig")  # a BOM is no name
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{os.fspath(path)}: cannot read users file: {exc}") from exc
        users = cls(hasher=hasher)
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                users._lines.append(raw)
                continue
            where = f"{os.fspath(path)} line {number}"
            name, _, rest = line.partition(":")
            password_hash, _, roles = rest.partition(":")
            users._add(where, name, password_hash, roles.split(","), command=path)
        return users

    @classmethod
    def from_hashes(
        cls,
        hashes: Mapping[str, str],
        *,
        source: str = "[users]",
        hasher: PasswordHasher | None = None,
    ) -> UsersFile:
        """Users from name -> argon2 hash (a ``[users]`` table of a TOML file), no roles.
        ``source`` names the table in a ``ValueError``."""
        users = cls(hasher=hasher)
        for name, password_hash in hashes.items():
            users._add(f"{source} {name!r}", name, password_hash, (), command=None)
        return users

    def _add(
        self,
        where: str,
        name: str,
        password_hash: str,
        roles: Iterable[str],
        *,
        command: str | os.PathLike[str] | None,
    ) -> None:
        _check_name(f"{where}: ", name)
        if not password_hash:
            raise ValueError(f"{where}: expected name:argon2-hash[:role,...]")
        if not password_hash.startswith(_ARGON2_PREFIXES):
            fix = (
                f"set it with `stompbox passwd {os.fspath(command)} {name}`"
                if command is not None
                else "make one with `stompbox passwd FILE NAME` and copy it from FILE"
            )
            raise ValueError(
                f"{where}: the password of {name!r} is not an argon2 hash (plaintext?); {fix}"
            )
        try:
            extract_parameters(password_hash)
        except InvalidHashError:
            raise ValueError(f"{where}: the argon2 hash of {name!r} is damaged") from None
        if name in self._users:
            raise ValueError(f"{where}: user {name!r} appears twice")
        user = _User(name, password_hash, _check_roles(where, roles))
        self._users[name] = user
        self._lines.append(user)

    def names(self) -> list[str]:
        """The users' names, in the order of the file."""
        return list(self._users)

    def __contains__(self, name: object) -> bool:
        return name in self._users

    def verify(self, login: str, password: str) -> Principal:
        """The principal ``login`` names if ``password`` is theirs, else
        :class:`AuthenticationFailed` saying which of unknown user or wrong password.

        Blocking and slow on purpose. An unknown user costs one verification too, against
        a hash made with the same parameters, so the time taken does not tell which.
        """
        dummy = _dummy_hash(self._hasher)  # made on the first call, whoever asks
        user = self._users.get(login)
        try:
            self._hasher.verify(user.password_hash if user else dummy, password)
        except (VerificationError, InvalidHashError):
            if user is None:
                raise AuthenticationFailed(f"unknown user {login!r}") from None
            raise AuthenticationFailed(f"wrong password for {login!r}") from None
        if user is None:  # the dummy password, guessed
            raise AuthenticationFailed(f"unknown user {login!r}")
        return Principal(user.name, user.roles, via="users-file")

    def set(self, name: str, password: str, roles: Iterable[str] | None = None) -> None:
        """Add ``name`` or change their password; ``roles=None`` keeps the roles they had."""
        _check_name("", name)
        new_roles = None if roles is None else _check_roles("roles", roles)
        if not password:
            raise ValueError("empty password")
        password_hash = hash_password(password, hasher=self._hasher)
        user = self._users.get(name)
        if user is None:
            user = _User(name, password_hash, new_roles or frozenset())
            self._users[name] = user
            self._lines.append(user)
        else:
            user.password_hash = password_hash
            if new_roles is not None:
                user.roles = new_roles

    def remove(self, name: str) -> None:
        """Remove ``name``; ``KeyError`` if there is no such user."""
        user = self._users.pop(name)
        self._lines.remove(user)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the file atomically (a temporary file beside it, then ``os.replace``), with
        mode 0600: a reader sees the old file or the new one, and only the owner sees either."""
        target = Path(path)
        text = "".join(
            f"{line.line() if isinstance(line, _User) else line}\n" for line in self._lines
        )
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _check_name(where: str, name: str) -> None:
    if not name or name.startswith("#") or not _is_plain(name, ":"):
        raise ValueError(
            f"{where}user name {name!r} must be non-empty, not start with '#' and hold no "
            "':', whitespace or control characters"
        )


def _check_roles(where: str, roles: Iterable[str]) -> frozenset[str]:
    checked = frozenset(role.strip() for role in roles if role.strip())
    for role in checked:
        if not _is_plain(role, ":,"):
            raise ValueError(
                f"{where}: role {role!r} may hold no ':', ',', whitespace or control characters"
            )
    return checked


def _is_plain(text: str, forbidden: str) -> bool:
    return not any(c in forbidden or c.isspace() or not c.isprintable() for c in text)


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of a password nobody knows, made with ``hasher``'s parameters (once each)."""
    key = (
        hasher.type,
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
        hasher.hash_len,
        hasher.salt_len,
    )
    dummy = _DUMMY_HASHES.get(key)
    if dummy is None:
        dummy = _DUMMY_HASHES[key] = hasher.hash(os.urandom(16).hex())
    return dummy
