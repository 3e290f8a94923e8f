"""Payload conversion, without a network: bodies to handler parameters, results to bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic
import pytest

from stompbox.app.conversion import ConversionError, decode_payload, encode_payload


@dataclass
class Order:
    sku: int
    note: str = ""


class Model(pydantic.BaseModel):
    name: str


def test_json_bodies_become_what_the_handler_asks_for() -> None:
    body = b'{"sku": 42}'
    assert decode_payload(body, "application/json", Order) == Order(42)
    assert decode_payload(b'{"name": "x"}', "application/json", Model) == Model(name="x")
    assert decode_payload(b"[1, 2]", "application/json", list[int]) == [1, 2]
    assert decode_payload(body, "application/json", dict[str, int]) == {"sku": 42}
    assert decode_payload(body, "application/json", Any) == {"sku": 42}


def test_text_and_bytes() -> None:
    assert decode_payload(b"caf\xc3\xa9", "text/plain", str) == "café"
    assert decode_payload(b"\x00\xff", None, bytes) == b"\x00\xff"


@pytest.mark.parametrize(
    ("body", "target", "problem"),
    [
        (b"{oops", Order, "not valid JSON"),
        (b'{"nom": 1}', Order, "no field(s) nom"),
        (b'{"sku": "x"}', Order, "sku"),
        (b'{"name": 1}', Model, "name"),
    ],
)
def test_what_does_not_convert_says_why(body: bytes, target: Any, problem: str) -> None:
    with pytest.raises(ConversionError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        decode_payload(body, "application/json", target)


def test_results_become_bodies_with_their_content_type() -> None:
    assert encode_payload(b"raw") == (b"raw", None)
    assert encode_payload("text") == (b"text", "text/plain;charset=utf-8")
    body, content_type = encode_payload(Order(1, "n"))
    assert (body, content_type) == (b'{"sku":1,"note":"n"}', "application/json")
    assert encode_payload(Model(name="m"))[0] == b'{"name":"m"}'
