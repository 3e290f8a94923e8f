"""``stompbox send`` and ``stompbox subscribe``: the client from a shell."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from stompbox.client import BrokerErrorFrame, ConnectFailed, Message, StompError, connect

__all__ = ["add_client_commands"]

DEFAULT_URL = "stomp://localhost:61613/"


class UsageError(Exception):
    """A command-line value is wrong; the message says which."""


def parse_headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name:
            raise UsageError(f"header {value!r} is not name:value")
        headers[name] = rest
    return headers


def bodies(args: argparse.Namespace) -> Iterator[bytes]:
    if args.body == "-":
        data = sys.stdin.buffer.read()
        if args.lines:
            yield from (line for line in data.splitlines() if line)
        else:
            yield data
    elif args.lines:
        raise UsageError("--lines needs the body from stdin: give - as BODY")
    else:
        yield (args.body or "").encode()


async def send_command(args: argparse.Namespace) -> int:
    headers = parse_headers(args.header)
    async with connect(args.url, connect_timeout=args.timeout) as client:
        count = 0
        for body in bodies(args):
            await client.send(
                args.destination,
                body,
                headers=headers,
                content_type=args.content_type,
                receipt=args.receipt,
            )
            count += 1
    # Leaving the block sends DISCONNECT and waits for its receipt: the broker handles
    # frames in order, so by then it has every message.
    if args.receipt:  # asked for a confirmation: say it came, on stderr as -v does
        print(
            f"sent {count} message(s) to {args.destination}, each confirmed by a RECEIPT",
            file=sys.stderr,
        )
    elif args.verbose:
        print(f"sent {count} message(s) to {args.destination}", file=sys.stderr)
    return 0


def format_message(message: Message, args: argparse.Namespace) -> str:
    if args.json:
        try:
            body: Any = message.text
            encoding = "utf-8"
        except UnicodeDecodeError:
            body = base64.b64encode(message.body).decode()
            encoding = "base64"
        return json.dumps(
            {
                "destination": message.destination,
                "headers": message.headers,
                "body": body,
                "encoding": encoding,
            },
            ensure_ascii=False,
        )
    text = message.body.decode("utf-8", "replace")
    if args.verbose:
        head = "\n".join(f"{k}:{v}" for k, v in message.frame.headers)
        return f"{head}\n\n{text}"
    return text


async def subscribe_command(args: argparse.Namespace) -> int:
    headers = parse_headers(args.header)
    ack = args.ack
    if args.count and ack == "auto":
        # with auto ack a queue would hand this process everything it holds, and what
        # is not printed before exit would be lost: acknowledge what is printed instead
        ack = "client"
    held: list[Message] = []
    async with connect(args.url, connect_timeout=args.timeout) as client:
        # Each ACK makes room for one more message, so the ACKs of the last ``window``
        # messages wait until after UNSUBSCRIBE, which only stompbox's own broker takes
        # (RabbitMQ refuses them, and so does a stompbox relaying to it); elsewhere it is
        # one at a time, and the last ACK may have one more handed over (and back,
        # marked redelivered, at exit).
        server = client.server or ""  # "stompbox/0.1.0 (relay)" has a broker's rules
        late_acks = server.startswith("stompbox/") and " " not in server
        window = min(args.count, 100) if late_acks else 1
        if args.count:
            given = headers.setdefault("prefetch-count", str(window))  # stompbox's, RabbitMQ's
            headers.setdefault("activemq.prefetchSize", given)  # ActiveMQ's
            window = int(given) if given.isdigit() and int(given) else window
        try:
            async with client.subscribe(args.destination, ack=ack, headers=headers) as sub:
                received = 0
                async for message in sub:
                    sys.stdout.write(format_message(message, args) + "\n")
                    sys.stdout.flush()
                    received += 1
                    if ack == "auto":
                        pass
                    elif late_acks and args.count and received > args.count - window:
                        held.append(message)  # its ACK now would be refilled past N
                    else:
                        await message.ack()
                    if args.count and received >= args.count:
                        break
        finally:
            # UNSUBSCRIBEd: stompbox takes these ACKs and hands nothing more for them
            with contextlib.suppress(StompError, OSError):  # if lost, the broker has them
                for message in held[-1:] if ack == "client" else held:
                    await message.ack()
    return 0


def run_client_command(args: argparse.Namespace) -> int:
    command = send_command if args.command == "send" else subscribe_command
    try:
        return asyncio.run(command(args))
    except UsageError as exc:
        print(f"stompbox {args.command}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a bad URL
        print(f"stompbox {args.command}: {exc}", file=sys.stderr)
        return 2
    except ConnectFailed as exc:
        print(f"stompbox {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokerErrorFrame as exc:
        print(f"stompbox {args.command}: the broker answered ERROR: {exc}", file=sys.stderr)
        return 1
    except StompError as exc:
        print(f"stompbox {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def add_client_commands(commands: Any) -> None:
    url_help = (
        f"broker URL: stomp://, stomps://, ws:// or wss:// (default $STOMPBOX_URL or {DEFAULT_URL})"
    )
    default_url = os.environ.get("STOMPBOX_URL", DEFAULT_URL)

    send = commands.add_parser(
        "send",
        help="send messages",
        description="Send a message (or one per line of stdin with --lines) to DEST.",
    )
    send.add_argument("destination", metavar="DEST")
    send.add_argument("body", metavar="BODY", nargs="?", help="the body, or - to read stdin")
    send.add_argument("-H", "--header", action="append", default=[], metavar="NAME:VALUE")
    send.add_argument("--url", default=default_url, help=url_help)
    send.add_argument("--receipt", action="store_true", help="wait for the broker's RECEIPT")
    send.add_argument("--lines", action="store_true", help="one message per line of stdin")
    send.add_argument("--content-type", help="content-type header")
    send.add_argument("--timeout", type=float, default=10.0, help="connect timeout (s)")
    send.add_argument("-v", "--verbose", action="store_true")
    send.set_defaults(func=run_client_command)

    subscribe = commands.add_parser(
        "subscribe",
        help="print messages from a destination",
        description="Subscribe to DEST and print each message's body (headers with -v).",
    )
    subscribe.add_argument("destination", metavar="DEST")
    subscribe.add_argument("--ack", default="auto", choices=["auto", "client", "client-individual"])
    subscribe.add_argument("--count", type=int, default=0, help="exit after N messages")
    subscribe.add_argument("--json", action="store_true", help="one JSON object per message")
    subscribe.add_argument("-v", "--verbose", action="store_true", help="print headers too")
    subscribe.add_argument("-H", "--header", action="append", default=[], metavar="NAME:VALUE")
    subscribe.add_argument("--url", default=default_url, help=url_help)
    subscribe.add_argument("--timeout", type=float, default=10.0, help="connect timeout (s)")
    subscribe.set_defaults(func=run_client_command)
