"""``stompbox passwd``: add, change or delete a user in a users file, like htpasswd, or
print a line for a ``[users]`` table."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_passwd_command"]


class _Refused(Exception):
    """What to print after ``stompbox passwd:``; the command exits with 2."""


def _passwd(args: argparse.Namespace) -> int:
    from stompbox.security.passwords import UsersFile

    if args.file == "-":
        return _print_table_line(args)
    path = Path(args.file)
    try:
        users = UsersFile.load(path) if path.exists() else UsersFile()
        if args.delete:
            if args.user not in users:
                raise _Refused(f"no user {args.user!r} in {path}")
            users.remove(args.user)
            done = f"deleted user {args.user}"
        else:
            roles = None if args.roles is None else args.roles.split(",")
            done = (
                f"changed password of {args.user}"
                if args.user in users
                else f"added user {args.user}"
            )
            users.set(args.user, _read_password(args.user), roles)
        users.save(path)
    except (_Refused, ValueError) as exc:
        print(f"stompbox passwd: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"stompbox passwd: cannot write {path}: {exc}", file=sys.stderr)
        return 2
    print(done)
    return 0


def _print_table_line(args: argparse.Namespace) -> int:
    """``FILE -``: a ``name = "hash"`` line for a ``[users]`` table, which holds no roles."""
    from stompbox.security.passwords import UsersFile, hash_password

    try:
        if args.delete or args.roles is not None:
            raise _Refused("FILE - prints a [users] line; --delete and --roles need a file")
        password_hash = hash_password(_read_password(args.user))
        UsersFile.from_hashes({args.user: password_hash})  # the checks serve will make
    except (_Refused, ValueError) as exc:
        print(f"stompbox passwd: {exc}", file=sys.stderr)
        return 2
    key = args.user if re.fullmatch(r"[A-Za-z0-9_-]+", args.user) else json.dumps(args.user)
    print(f"{key} = {json.dumps(password_hash)}")
    return 0


def _read_password(user: str) -> str:
    """Asked twice at a terminal; otherwise the first line of stdin, for scripts."""
    if sys.stdin.isatty():
        try:
            password = getpass.getpass(f"Password for {user}: ")
            again = getpass.getpass("Again: ")
        except EOFError:
            raise _Refused("no password given") from None
        if password != again:
            raise _Refused("the passwords do not match")
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise _Refused("empty password refused")
    return password


def add_passwd_command(commands: Any) -> None:
    passwd = commands.add_parser(
        "passwd",
        help="add, change or delete a user in a users file",
        description=(
            "Set USER's password in FILE, a users file for the `users_file` setting "
            "(created if missing, written with mode 0600), as an argon2id hash. FILE - "
            "prints a line for a [users] table instead. The password is asked twice at a "
            "terminal, or read from the first line of stdin: "
            "`echo secret | stompbox passwd users.txt alice`."
        ),
    )
    passwd.add_argument("file", metavar="FILE", help="the users file")
    passwd.add_argument("user", metavar="USER", help="the user's login")
    action = passwd.add_mutually_exclusive_group()
    action.add_argument(
        "--roles",
        metavar="ROLE,...",
        help="set the user's roles (comma separated; '' for none); without it they are kept",
    )
    action.add_argument("--delete", action="store_true", help="delete the user")
    passwd.set_defaults(func=_passwd)
