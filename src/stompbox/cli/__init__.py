"""The ``stompbox`` command: ``serve`` runs the broker, ``send`` and ``subscribe`` are the
client from a shell, ``bench`` measures any STOMP broker.

One module per command (:mod:`.serve`, :mod:`.tools`, :mod:`.bench`); this one only joins
their subparsers.
"""

from __future__ import annotations

import argparse

from stompbox._version import __version__

from .bench import add_bench_command
from .passwd import add_passwd_command
from .serve import add_serve_command, load_app
from .tools import add_client_commands

__all__ = ["build_parser", "load_app", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stompbox", description="A STOMP 1.0/1.1/1.2 broker and tools."
    )
    parser.add_argument("--version", action="version", version=f"stompbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(commands)
    add_client_commands(commands)
    add_bench_command(commands)
    add_passwd_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
