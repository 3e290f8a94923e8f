"""Spring's "Using WebSocket to build an interactive web application", with stompbox.

Run ``python examples/greeting/app.py`` and open http://127.0.0.1:8000/.
"""

from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from stompbox.app import StompApp, send_to

stomp = StompApp()


@dataclass
class HelloMessage:
    name: str


@dataclass
class Greeting:
    content: str


@stomp.message("/hello")
@send_to("/topic/greetings")
async def greeting(message: HelloMessage) -> Greeting:
    return Greeting(f"Hello, {message.name}!")


here = Path(__file__).parent
vendor = here.parent.parent / "node_modules" / "@stomp" / "stompjs" / "bundles"
app = Starlette(
    routes=[
        WebSocketRoute("/gs-guide-websocket", stomp.asgi),
        Mount("/vendor", StaticFiles(directory=vendor, check_dir=False)),
        Mount("/", StaticFiles(directory=here / "static", html=True)),
    ]
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000, ws="websockets-sansio")
