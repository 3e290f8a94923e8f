"""``stompbox status`` and ``stompbox queues``: a running server at a glance, read from
its management listener's JSON API (``/api/overview``, ``/api/queues``, ``/readyz``).

Plain ``urllib``: the commands need nothing that the package does not already bring.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, Final

__all__ = ["add_admin_commands"]

DEFAULT_URL: Final = "http://127.0.0.1:15672"


class AdminUnavailable(Exception):
    """The management listener could not be read; the message says why and what to do."""


def fetch(args: argparse.Namespace, path: str, *, ok: tuple[int, ...] = (200,)) -> Any:
    """GET ``path`` of the listener at ``--url`` as JSON, with the Basic credentials
    given; statuses in ``ok`` are answers, any other is an :class:`AdminUnavailable`."""
    if not args.url.startswith(("http://", "https://")):
        raise AdminUnavailable(f"--url must be an http:// or https:// URL, not {args.url!r}")
    url = args.url.rstrip("/") + path
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    if args.user is not None:
        token = base64.b64encode(f"{args.user}:{args.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        if error.code in ok:
            return json.loads(body)
        if error.code == 401:
            who = f"user {args.user!r}" if args.user else "no user given (--user)"
            raise AdminUnavailable(
                f"{args.url} needs a user with the 'management' role ({who}; "
                "--user/--password or $STOMPBOX_USER/$STOMPBOX_PASSWORD)"
            ) from None
        raise AdminUnavailable(f"{url} answered {error.code}: {_said(body)}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AdminUnavailable(
            f"cannot reach the management listener at {args.url}: {reason} "
            "(is stompbox serve running, with --http-port?)"
        ) from None
    except ValueError as error:  # an answer that is not JSON
        raise AdminUnavailable(f"{url} did not answer JSON: {error}") from None


def _said(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace").strip()[:200]


def status_command(args: argparse.Namespace) -> int:
    overview = fetch(args, "/api/overview")
    ready = fetch(args, "/readyz", ok=(200, 503))
    if args.json:
        print(json.dumps({**overview, "ready": ready}, indent=2))
        return 0
    messages, rates, memory = overview["messages"], overview["rates"], overview["memory"]
    reason = ready.get("reason")
    lines = [
        ("version", overview["version"]),
        ("uptime", f"{overview['uptime_seconds']:.0f} s"),
        ("ready", "yes" if ready.get("ready") else f"no ({reason})"),
        ("connections", overview["connections"]),
        ("sessions", overview["sessions"]),
        ("subscriptions", overview["subscriptions"]),
        ("queues", overview["queues"]),
        (
            "messages",
            f"{messages['published']} published, {messages['delivered']} delivered, "
            f"{messages['redelivered']} redelivered, {messages['dead_lettered']} dead-lettered",
        ),
        (
            "rates",
            f"{rates['published_per_second']:.1f}/s in, {rates['delivered_per_second']:.1f}/s out",
        ),
        ("memory", f"{_size(memory['used_bytes'])} of {_size(memory['budget_bytes'])}"),
    ]
    for name, value in lines:
        print(f"{name + ':':<15}{value}")
    return 0


def queues_command(args: argparse.Namespace) -> int:
    queues = fetch(args, "/api/queues")
    if args.json:
        print(json.dumps(queues, indent=2))
        return 0
    rows = [("NAME", "MESSAGES", "CONSUMERS", "UNACKED", "IN/S", "OUT/S")]
    rows += [
        (
            queue["name"],
            str(queue["messages"]),
            str(queue["consumers"]),
            str(queue["unacked"]),
            f"{queue['published_per_second']:.1f}",
            f"{queue['delivered_per_second']:.1f}",
        )
        for queue in queues
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells).rstrip())
    return 0


def _size(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def run_admin_command(args: argparse.Namespace) -> int:
    command = status_command if args.command == "status" else queues_command
    try:
        return command(args)
    except AdminUnavailable as exc:
        print(f"stompbox {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def add_admin_commands(commands: Any) -> None:
    for name, text in (
        ("status", "the server at a glance: connections, queues, rates, memory, readiness"),
        ("queues", "a table of the server's queues: depth, consumers, unacked, rates"),
    ):
        parser = commands.add_parser(name, help=text, description=f"Show {text}.")
        parser.add_argument(
            "--url",
            default=DEFAULT_URL,
            help=f"the management listener of stompbox serve (default {DEFAULT_URL})",
        )
        parser.add_argument(
            "--user",
            default=os.environ.get("STOMPBOX_USER"),
            help="a user with the management role (default $STOMPBOX_USER)",
        )
        parser.add_argument(
            "--password",
            default=os.environ.get("STOMPBOX_PASSWORD"),
            help="their password (default $STOMPBOX_PASSWORD)",
        )
        parser.add_argument("--json", action="store_true", help="print the API's JSON")
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait")
        parser.set_defaults(func=run_admin_command)
