"""The ``stompbox`` command: ``serve`` runs the broker, ``send`` and ``subscribe`` are the
client from a shell, ``bench`` measures any STOMP broker.

One module per command (:mod:`.serve`, :mod:`.tools`, :mod:`.bench`); this one only joins
their subparsers.
"""

from __future__ import annotations

import argparse
import sys

from stompbox._version import __version__

from .admin import add_admin_commands
from .bench import add_bench_command
from .config import add_config_command
from .passwd import add_passwd_command
from .serve import add_serve_command, load_app
from .tools import add_client_commands

__all__ = ["build_parser", "load_app", "main"]


def build_parser() -> argparse.ArgumentParser:
    return _build()[0]


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and each subcommand's parser by name."""
    parser = argparse.ArgumentParser(
        prog="stompbox", description="A STOMP 1.0/1.1/1.2 broker and tools."
    )
    parser.add_argument("--version", action="version", version=f"stompbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(commands)
    add_client_commands(commands)
    add_bench_command(commands)
    add_passwd_command(commands)
    add_config_command(commands)
    add_admin_commands(commands)
    return parser, dict(commands.choices)


def main(argv: list[str] | None = None) -> int:
    parser, subparsers = _build()
    words = sys.argv[1:] if argv is None else argv
    # argparse hands a subcommand's unknown options back to the top parser, which would
    # print its own usage; the usage of the subcommand they were given to helps more.
    args, unknown = parser.parse_known_args(words)
    if unknown:
        given_after = words.index(unknown[0]) > words.index(args.command)
        (subparsers[args.command] if given_after else parser).error(
            f"unrecognized arguments: {' '.join(unknown)}"
        )
    result: int = args.func(args)
    return result
