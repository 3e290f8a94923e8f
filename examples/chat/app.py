"""A chat with rooms and private messages: STOMP over WebSocket, handlers in Python.

Run ``python examples/chat/app.py`` and open http://127.0.0.1:8000/ in two browsers
(http://127.0.0.1:8000/?transport=sockjs to go through SockJS at /sockjs instead, as
browsers or proxies without WebSocket must).
Each user names themselves at CONNECT (the ``login`` header), which this demo takes on
trust (``trust_login=True``, logged as development-only); a real app passes an
``authenticate`` callable, a users file or JWT settings instead (docs/security.md).
Room messages go to ``/topic/chat/<room>``; private messages reach every session of one
user at ``/user/queue/private``. The access rules let browsers send only to the app's
handlers, so that nobody can post to a room as if they were the server. A ValueError (an
unknown room, a payload that does not fit ``Post``) is answered on ``/user/queue/errors``,
which the page shows as a notice; the session goes on. Rooms are retained topics: after a
lost connection the page resumes each where it stopped, missing nothing (static/resume.js).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from stompbox.app import SessionEvent, StompApp, send_to, send_to_user
from stompbox.broker import BrokerConfig
from stompbox.security import allow
from stompbox.server import ServerConfig

stomp = StompApp(
    # rooms keep their last 1,000 messages for an hour: a page that lost its connection
    # resumes where it stopped (static/resume.js; docs/delivery.md)
    config=ServerConfig(broker=BrokerConfig(retain_topics=["/topic/chat/*"])),
    trust_login=True,
    acl=[
        allow("any", "send", "/app/**"),
        allow("any", "subscribe", ["/app/**", "/topic/chat/*", "/topic/presence"]),
        allow("authenticated", "subscribe", "/user/queue/*"),
    ],
)
ROOMS = ["lobby", "python", "random"]


@dataclass
class Post:
    text: str


@dataclass
class Private:
    to: str
    text: str


@dataclass
class ChatMessage:
    room: str
    sender: str
    text: str
    at: float


@stomp.subscribe("/rooms")
def rooms() -> list[str]:
    """Answered once to whoever subscribes to /app/rooms."""
    return ROOMS


@stomp.message("/chat/{room}")
@send_to("/topic/chat/{room}")
def post(room: str, payload: Post, principal: str) -> ChatMessage:
    if room not in ROOMS:
        raise ValueError(f"no room {room!r}")
    return ChatMessage(room, principal, payload.text, time.time())


@stomp.message("/private")
async def private(payload: Private, principal: str) -> None:
    message = ChatMessage("private", principal, payload.text, time.time())
    await stomp.send_to_user(payload.to, "/queue/private", message)
    await stomp.send_to_user(principal, "/queue/private", message)  # the sender's copy


@stomp.exception_handler(ValueError)
@send_to_user("/queue/errors", broadcast=False)
def refused(exc: ValueError) -> dict[str, str]:
    return {"error": str(exc)}


@stomp.on("connected")
async def joined(event: SessionEvent) -> None:
    await stomp.send("/topic/presence", {"user": event.user, "online": True})


@stomp.on("disconnect")
async def left(event: SessionEvent) -> None:
    await stomp.send("/topic/presence", {"user": event.user, "online": False})


async def users(request: Request) -> JSONResponse:
    """An HTTP route beside the STOMP endpoint, reading the app's user registry."""
    return JSONResponse(stomp.users())


async def announce(request: Request) -> JSONResponse:
    """The messaging template from HTTP: POST {"text": ...} to /announce."""
    data = await request.json()
    await stomp.send("/topic/chat/lobby", ChatMessage("lobby", "server", data["text"], time.time()))
    return JSONResponse({"sent": True})


here = Path(__file__).parent
node_modules = here.parent.parent / "node_modules"
app = Starlette(
    routes=[
        WebSocketRoute("/stomp", stomp.asgi),
        Mount("/sockjs", app=stomp.sockjs_asgi),
        Route("/users", users),
        Route("/announce", announce, methods=["POST"]),
        Mount(
            "/vendor/sockjs",
            StaticFiles(directory=node_modules / "sockjs-client" / "dist", check_dir=False),
        ),
        Mount(
            "/vendor",
            StaticFiles(directory=node_modules / "@stomp" / "stompjs" / "bundles", check_dir=False),
        ),
        Mount("/", StaticFiles(directory=here / "static", html=True)),
    ]
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000, ws="websockets-sansio")
