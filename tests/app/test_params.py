"""Handler parameters, resolved from a frame without a server: headers by annotation,
the principal converted, template variables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pytest

from stompbox.app import ConversionError, Header, StompApp, TestClient
from stompbox.app.params import Context, Signature
from stompbox.protocol import Frame
from stompbox.security import Principal

from ..support import run


@dataclass
class User:
    name: str


def call(
    handler: Any,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    principal: Any = None,
    variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    signature = Signature(handler, list(variables or {}))
    frame = Frame("SEND", (("destination", "/app/x"), *headers), b"")
    ctx = Context(frame, "/app/x", variables or {}, None, principal)
    return signature.arguments(ctx)


class TestHeader:
    def test_present_first_of_repeats(self) -> None:
        def handler(trace: Annotated[str, Header("x-trace")]) -> None: ...

        args = call(handler, (("x-trace", "t-1"), ("x-trace", "t-2")))
        assert args == {"trace": "t-1"}

    def test_optional_by_none_default(self) -> None:
        def handler(trace: Annotated[str | None, Header("x-trace")] = None) -> None: ...

        assert call(handler) == {"trace": None}
        assert call(handler, (("x-trace", "t"),)) == {"trace": "t"}

    def test_optional_by_default(self) -> None:
        def handler(count: Annotated[int, Header("x-count")] = 7) -> None: ...

        assert call(handler) == {"count": 7}
        assert call(handler, (("x-count", "3"),)) == {"count": 3}

    def test_optional_by_type_without_default(self) -> None:
        def handler(trace: Annotated[str | None, Header("x-trace")]) -> None: ...

        assert call(handler) == {"trace": None}

    def test_missing_required_header_names_it(self) -> None:
        def handler(trace: Annotated[str, Header("x-trace")]) -> None: ...

        with pytest.raises(ConversionError, match="header x-trace is missing"):
            call(handler)

    def test_header_that_does_not_convert_names_it(self) -> None:
        def handler(count: Annotated[int, Header("x-count")]) -> None: ...

        assert call(handler, (("x-count", "42"),)) == {"count": 42}
        with pytest.raises(ConversionError, match=r"header x-count='many' is not a int"):
            call(handler, (("x-count", "many"),))

    def test_float_and_bool(self) -> None:
        def handler(
            ratio: Annotated[float, Header("x-ratio")],
            urgent: Annotated[bool, Header("x-urgent")],
        ) -> None: ...

        args = call(handler, (("x-ratio", "0.5"), ("x-urgent", "true")))
        assert args == {"ratio": 0.5, "urgent": True}
        with pytest.raises(ConversionError, match="header x-urgent='maybe' is not a bool"):
            call(handler, (("x-ratio", "1"), ("x-urgent", "maybe")))

    def test_header_beside_the_payload(self) -> None:
        """A header parameter is not taken for the payload: the one left over still is."""

        def handler(body: str, trace: Annotated[str, Header("x-trace")]) -> None: ...

        signature = Signature(handler, [])
        assert [name for name, _ in signature.resolvers] == ["body", "trace"]

    def test_other_annotated_metadata_is_ignored(self) -> None:
        def handler(destination: Annotated[str, "doc"]) -> None: ...

        assert call(handler) == {"destination": "/app/x"}


class TestPrincipal:
    def test_as_returned_and_by_name(self) -> None:
        alice = Principal("alice")

        def raw(principal: Principal) -> None: ...

        def unannotated(principal):  # type: ignore[no-untyped-def]
            ...

        def name(principal: str) -> None: ...

        assert call(raw, principal=alice) == {"principal": alice}
        assert call(unannotated, principal=alice) == {"principal": alice}
        assert call(name, principal=alice) == {"principal": "alice"}
        assert call(name, principal=None) == {"principal": None}

    def test_converted_name(self) -> None:
        def handler(principal: int) -> None: ...

        assert call(handler, principal=Principal("42")) == {"principal": 42}
        with pytest.raises(ConversionError, match="principal='alice' is not a int"):
            call(handler, principal=Principal("alice"))

    def test_not_the_annotated_class(self) -> None:
        def handler(principal: User | None) -> None: ...

        assert call(handler, principal=User("a")) == {"principal": User("a")}
        with pytest.raises(ConversionError, match="principal is a Principal, not a User"):
            call(handler, principal=Principal("a"))


def test_template_variable_that_does_not_convert() -> None:
    def handler(room: int) -> None: ...

    assert call(handler, variables={"room": "3"}) == {"room": 3}
    with pytest.raises(ConversionError, match="template variable room='x' is not a int"):
        call(handler, variables={"room": "x"})


def test_missing_header_is_reported_to_the_sender() -> None:
    app = StompApp()
    seen: list[str] = []

    @app.message("/traced")
    def traced(trace: Annotated[str, Header("x-trace")]) -> None:
        seen.append(trace)

    async def main() -> None:
        async with (
            TestClient(app) as client,
            client.subscribe("/user/queue/errors") as errors,
        ):
            await client.send("/app/traced", "x", headers={"x-trace": "t-1"}, receipt=True)
            assert seen == ["t-1"]
            await client.send("/app/traced", "x")
            error = await errors.get(5)
            assert error.headers["source-destination"] == "/app/traced"
            assert "header x-trace is missing" in error.text

    run(main())
