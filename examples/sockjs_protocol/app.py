"""The services the SockJS protocol's own test suite (sockjs-protocol-0.3.3.py) runs
against, on http://localhost:8081:

    python examples/sockjs_protocol/app.py
    SOCKJS_URL=http://localhost:8081 python sockjs-protocol-0.3.3.py

The response limit is 4 KiB, as the suite expects of its test server.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from stompbox.sockjs import SockJSEndpoint
from stompbox.sockjs.testing import CloseHandler, EchoHandler

LIMIT = 4096


def create_app() -> Starlette:
    services = {
        "/echo": SockJSEndpoint(EchoHandler(), prefix="/echo", response_limit=LIMIT),
        "/close": SockJSEndpoint(CloseHandler(), prefix="/close", response_limit=LIMIT),
        "/disabled_websocket_echo": SockJSEndpoint(
            EchoHandler(), websocket=False, prefix="/disabled_websocket_echo", response_limit=LIMIT
        ),
        "/cookie_needed_echo": SockJSEndpoint(
            EchoHandler(), cookie_needed=True, prefix="/cookie_needed_echo", response_limit=LIMIT
        ),
    }
    routes: list[BaseRoute] = []
    for path, endpoint in services.items():
        # the bare base URL too (the suite GETs it), which a Mount would redirect
        routes += [Route(path, endpoint), Mount(path, app=endpoint)]
    return Starlette(routes=routes)


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8081)
