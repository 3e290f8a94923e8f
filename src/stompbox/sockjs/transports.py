"""The SockJS transports over ASGI: receiving requests (polling and streaming), sending
requests, and the two WebSockets. They only move bytes and wait; the rules are the
session's (:mod:`.session`) and the framing's (:mod:`.framing`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from . import framing
from .framing import CloseFrame, HeartbeatFrame, InvalidPayload, MessageFrame, OpenFrame
from .http import JAVASCRIPT, TEXT, BodyTooLarge, Headers, Receive, Request, Scope, Send
from .registry import SessionTable
from .session import ANOTHER_CONNECTION, SockJSSession

__all__ = ["Receiver", "receive_frames", "send_messages", "serve_websocket"]


@dataclass(frozen=True, slots=True)
class Receiver:
    """How one receiving transport answers: its type, prelude and wrapping of frames."""

    content_type: str
    wrap: Callable[[str], str]
    streaming: bool
    prelude: str = ""


XHR = Receiver(JAVASCRIPT, framing.xhr, streaming=False)
XHR_STREAMING = Receiver(
    JAVASCRIPT, framing.xhr, streaming=True, prelude=framing.XHR_STREAMING_PRELUDE
)
EVENTSOURCE = Receiver(
    "text/event-stream; charset=UTF-8",
    framing.eventsource,
    streaming=True,
    prelude=framing.EVENTSOURCE_PRELUDE,
)


def htmlfile(callback: str) -> Receiver:
    return Receiver(
        "text/html; charset=UTF-8",
        framing.htmlfile,
        streaming=True,
        prelude=framing.htmlfile_prelude(callback),
    )


def jsonp(callback: str) -> Receiver:
    return Receiver(JAVASCRIPT, lambda frame: framing.jsonp(callback, frame), streaming=False)


async def _disconnected(receive: Receive) -> None:
    """Return when the client goes away (the request body, if any, is skipped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_readable(session: SockJSSession) -> None:
    while not session.reading:
        resumed = asyncio.Event()
        session.add_read_listener(resumed.set)
        await resumed.wait()


async def receive_frames(
    table: SessionTable,
    request: Request,
    session_id: str,
    receiver: Receiver,
    headers: Headers,
    response_limit: int,
) -> None:
    """One receiving request: opens the session if it is new, then writes frames (one
    response for polling, until ``response_limit`` bytes or a close for streaming)."""
    session = table.sessions.get(session_id)
    if session is None:
        if table.full:
            await request.respond(503, headers, "Too many sessions.")
            return
        session = table.create(session_id, request.scope, websocket=False)
    await request.start(200, [("Content-Type", receiver.content_type), *headers])
    if receiver.prelude:
        await request.write(receiver.prelude)
    wake = asyncio.Event()
    if not session.attach(table.now(), wake.set):
        await request.write(receiver.wrap(framing.encode_frame(ANOTHER_CONNECTION)), more=False)
        return
    interrupted = False
    gone = asyncio.ensure_future(_disconnected(request.receive))
    try:
        session.start()
        table.schedule(session)
        written = 0
        while True:
            wake.clear()
            frame = session.take(table.now())
            if frame is None:
                woken = asyncio.ensure_future(wake.wait())
                await asyncio.wait({woken, gone}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if gone.done():
                    interrupted = True
                    return
                continue
            text = receiver.wrap(framing.encode_frame(frame))
            written += len(text)
            last = (
                not receiver.streaming or isinstance(frame, CloseFrame) or written >= response_limit
            )
            await request.write(text, more=not last)
            if last:
                return
    except OSError:
        interrupted = True
    finally:
        gone.cancel()
        session.detach(table.now(), interrupted=interrupted)
        table.schedule(session)


async def send_messages(
    table: SessionTable,
    request: Request,
    session_id: str,
    headers: Headers,
    *,
    max_bytes: int | None,
    jsonp: bool,
) -> None:
    """``xhr_send`` (204) or ``jsonp_send`` (200 ``ok``, the body form-encoded as ``d=``
    or raw): the messages go to the handler once the session reads again."""
    session = table.sessions.get(session_id)
    if session is None or session.closed:
        await request.respond(404, headers, "Not Found")
        return
    try:
        body = await request.read_body(max_bytes)
    except BodyTooLarge:
        await request.respond(413, headers, "Payload too large.")
        return
    payload: bytes | str = body
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if jsonp and content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        payload = form.get("d", [""])[0]
    try:
        messages = framing.decode_messages(payload)
    except InvalidPayload as error:
        await request.respond(500, headers, str(error))
        return
    await _until_readable(session)
    session.deliver(messages)
    if jsonp:
        await request.respond(200, headers, "ok")
    else:
        await request.respond(204, headers, content_type=TEXT)


def _close_code(code: int) -> int:
    """A code a WebSocket close frame may carry (RFC 6455 7.4), else 1000."""
    return code if code == 1000 or 3000 <= code <= 4999 else 1000


async def _read_websocket(
    session: SockJSSession, receive: Receive, *, raw: bool, max_bytes: int | None
) -> int | None:
    """Deliver the client's messages until it goes (None) or breaks the protocol (the
    close code to answer: 1002 for a payload that is not JSON, 1009 for one too big)."""
    while True:
        await _until_readable(session)
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return None
        if message["type"] != "websocket.receive":
            continue
        text = message.get("text")
        if text is None:
            try:
                text = (message.get("bytes") or b"").decode()
            except UnicodeDecodeError:
                return 1007
        if max_bytes is not None and len(text) * 4 > max_bytes and len(text.encode()) > max_bytes:
            return 1009
        if raw:
            session.deliver([text])
        elif text:  # empty messages are ignored
            try:
                session.deliver(framing.decode_messages(text))
            except InvalidPayload:
                return 1002


async def serve_websocket(
    table: SessionTable,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    session_id: str,
    raw: bool,
    subprotocols: tuple[str, ...],
    max_bytes: int | None,
) -> None:
    """The framed (``/<server>/<session>/websocket``) or raw (``/websocket``) WebSocket;
    its session lives as long as the socket."""
    if (await receive())["type"] != "websocket.connect":
        return
    if table.full:
        await send({"type": "websocket.close", "code": 1013})
        return
    offered = scope.get("subprotocols") or []
    chosen = next((name for name in offered if name in subprotocols), None)
    await send({"type": "websocket.accept", "subprotocol": chosen})
    session = table.create(session_id, scope, websocket=True)
    wake = asyncio.Event()
    session.attach(table.now(), wake.set)
    reader = asyncio.ensure_future(_read_websocket(session, receive, raw=raw, max_bytes=max_bytes))
    try:
        session.start()
        table.schedule(session)
        while True:
            wake.clear()
            frame = session.take(table.now())
            if frame is None:
                woken = asyncio.ensure_future(wake.wait())
                await asyncio.wait({woken, reader}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if reader.done():
                    code = reader.result()
                    if code is not None:
                        await send({"type": "websocket.close", "code": code})
                    return
                continue
            if isinstance(frame, CloseFrame):
                if not raw:
                    await send({"type": "websocket.send", "text": framing.encode_frame(frame)})
                reason = frame.reason.encode()[:123].decode(errors="ignore")
                await send(
                    {"type": "websocket.close", "code": _close_code(frame.code), "reason": reason}
                )
                return
            if not raw:
                await send({"type": "websocket.send", "text": framing.encode_frame(frame)})
            elif isinstance(frame, MessageFrame):
                for text in frame.messages:
                    await send({"type": "websocket.send", "text": text})
            else:
                assert isinstance(frame, OpenFrame | HeartbeatFrame)  # raw: no framing
    except OSError:
        pass  # the client went away while we wrote
    finally:
        reader.cancel()
        session.detach(table.now(), interrupted=not session.closed)
        table.forget(session)
