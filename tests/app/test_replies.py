"""Reply routing, without a network: where each kind of reply sends a handler's result."""

from __future__ import annotations

from typing import Any

from stompbox.app import MessageRoute, Reply, send_to, send_to_user
from stompbox.app.params import Context
from stompbox.app.replies import ReplyRouter
from stompbox.protocol import Frame


class Recorder:
    """Stands in for the template and the user destinations, recording what they get."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Any]] = []
        self.to_user: list[tuple[str, Any, bool]] = []

    def publish(self, destination: str, payload: Any, headers: Any) -> None:
        self.published.append((destination, payload))

    def send_to_own(
        self, session: Any, destination: str, payload: Any, headers: Any, broadcast: bool
    ) -> None:
        self.to_user.append((destination, payload, broadcast))


def route(handler: Any, reply: Reply | None = None) -> MessageRoute:
    r = MessageRoute("/chat/{room}", handler, reply=reply)
    r.bind("/")
    return r


def context(destination: str = "/app/chat/lobby") -> Context:
    return Context(Frame("SEND", ()), destination, {"room": "lobby"}, None, None)


def router(recorder: Recorder) -> ReplyRouter:
    return ReplyRouter(recorder, recorder, ("/app",), ("/topic", "/queue"))  # type: ignore[arg-type]


def test_by_default_to_the_first_broker_prefix_and_the_same_path() -> None:
    recorder = Recorder()
    router(recorder).route(route(lambda: None), "hi", context(), None, None)  # type: ignore[arg-type]
    assert recorder.published == [("/topic/chat/lobby", "hi")]


def test_decorators_compose_and_fill_template_variables() -> None:
    @send_to("/topic/rooms/{room}", "/topic/all")
    @send_to_user("/queue/mine", broadcast=False)
    def handler() -> None: ...

    recorder = Recorder()
    router(recorder).route(route(handler), "x", context(), None, None)  # type: ignore[arg-type]
    assert recorder.published == [("/topic/rooms/lobby", "x"), ("/topic/all", "x")]
    assert recorder.to_user == [("/queue/mine", "x", False)]


def test_a_routes_own_reply_comes_first() -> None:
    @send_to("/topic/b")
    def handler() -> None: ...

    recorder = Recorder()
    own = route(handler, Reply(("/topic/a",)))
    router(recorder).route(own, 1, context(), None, None)  # type: ignore[arg-type]
    assert recorder.published == [("/topic/a", 1), ("/topic/b", 1)]


def test_none_is_no_reply() -> None:
    recorder = Recorder()
    router(recorder).route(route(lambda: None), None, context(), None, None)  # type: ignore[arg-type]
    assert recorder.published == [] and recorder.to_user == []
