"""FastAPI with STOMP over WebSocket at /stomp, and one sign-in for both.

Run ``python examples/fastapi/app.py``. A token names its user (a real app would verify a
JWT or a session cookie here); HTTP routes and STOMP sessions read it the same way, from
``Authorization: Bearer <token>``, a ``token`` cookie (what a browser sends on the
WebSocket upgrade) or ``?token=`` (for clients that cannot set headers; it may end up in
access logs). The HTTP routes publish through the messaging template::

    curl -X POST -H 'Authorization: Bearer t-ada' -d '{"text": "hi"}' localhost:8000/news
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute

from stompbox.app import Credentials, StompApp

TOKENS = {"t-ada": "ada", "t-bob": "bob"}


def user_of(connection: HTTPConnection) -> str | None:
    """The user an HTTP request or a WebSocket handshake carries a valid token for."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        token = connection.cookies.get("token") or connection.query_params.get("token", "")
    return TOKENS.get(token)


def authenticate(credentials: Credentials) -> str | None:
    """STOMP's side: the same check, on the ASGI scope of the WebSocket handshake."""
    if credentials.handshake is None:  # a client of serve_tcp, not of this web app
        return None
    return user_of(HTTPConnection(dict(credentials.handshake)))


def current_user(connection: HTTPConnection) -> str:
    """HTTP's side: a FastAPI dependency that answers 401 without a valid token."""
    user = user_of(connection)
    if user is None:
        raise HTTPException(401, "a valid token is required", {"WWW-Authenticate": "Bearer"})
    return user


User = Annotated[str, Depends(current_user)]
stomp = StompApp(authenticate=authenticate, require_auth=True)


class Note(BaseModel):
    text: str


@stomp.message("/echo")
def echo(payload: Note, principal: str) -> dict[str, str]:
    """A STOMP handler: SEND to /app/echo, the reply goes to /topic/echo."""
    return {"from": principal, "text": payload.text}


api = FastAPI(routes=[WebSocketRoute("/stomp", stomp.asgi)])


@api.post("/news")
async def news(note: Note, user: User) -> dict[str, Any]:
    """Publish to every subscriber of /topic/news."""
    await stomp.send("/topic/news", {"from": user, "text": note.text})
    return {"sent": True}


@api.post("/notify/{to}")
async def notify(to: str, note: Note, user: User) -> dict[str, Any]:
    """Send to every session of one user (who subscribed to /user/queue/notices)."""
    await stomp.send_to_user(to, "/queue/notices", {"from": user, "text": note.text})
    return {"sent": True}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(api, host="127.0.0.1", port=8000, ws="websockets-sansio")
