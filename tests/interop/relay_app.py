"""The application several `stompbox serve --app ... --relay ...` processes run in the
scale-out tests: a handler that sends to a user wherever that user is connected."""

from __future__ import annotations

from stompbox.app import StompApp

app = StompApp(trust_login=True)


@app.message("/notify/{user}")
async def notify(user: str, payload: str) -> None:
    await app.send_to_user(user, "/queue/notes", payload)


@app.message("/users")
async def users(payload: str, principal: str) -> None:
    await app.send_to_user(principal, "/queue/users", app.users())
