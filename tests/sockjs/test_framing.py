"""SockJS framing: escaping, frames, transports' wrapping and client payloads."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stompbox.sockjs import framing
from stompbox.sockjs.framing import (
    CloseFrame,
    HeartbeatFrame,
    InvalidPayload,
    MessageFrame,
    OpenFrame,
    decode_messages,
    encode_frame,
    quote,
)

# the set the protocol's test suite checks the server escapes (sockjs-protocol-0.3.3.py)
ESCAPABLE_BY_SERVER = re.compile("[\x00-\x1f\u200c-\u200f\u2028-\u202f\u2060-\u206f\ufff0-\uffff]")


def test_the_protocols_server_killer_string_comes_back_escaped() -> None:
    chars = [chr(i) for i in range(255, 65536) if ESCAPABLE_BY_SERVER.match(chr(i))]
    expected = '"' + "".join(f"\\u{ord(c):04x}" for c in chars) + '"'
    assert quote("".join(chars)) == expected


@pytest.mark.parametrize(
    "char",
    [
        *("\x7f", "\x9f", "\u00ad", "\u0600", "\u0604", "\u070f", "\u17b4", "\u17b5"),
        *("\u200c", "\u2028", "\u202f", "\u2060", "\u206f", "\ufeff", "\ufff0", "\uffff"),
    ],
)
def test_each_range_sockjs_node_escapes_is_escaped(char: str) -> None:
    assert quote(char) == f'"\\u{ord(char):04x}"'


def test_lone_surrogates_are_escaped_so_the_frame_is_utf8() -> None:
    text = quote("a\ud800b\udfff")
    assert text == '"a\\ud800b\\udfff"'
    text.encode("utf-8")


def test_control_characters_and_quotes_stay_json() -> None:
    assert json.loads(quote('\x00\n"\\\t')) == '\x00\n"\\\t'
    assert quote("é ü 日本") == '"é ü 日本"'


def test_frames() -> None:
    assert encode_frame(OpenFrame()) == "o"
    assert encode_frame(HeartbeatFrame()) == "h"
    assert encode_frame(MessageFrame(("a", 'b"c', "\u2028"))) == 'a["a","b\\"c","\\u2028"]'
    assert encode_frame(CloseFrame(3000, "Go away!")) == 'c[3000,"Go away!"]'
    assert encode_frame(CloseFrame(2010, 'x"\u2028')) == 'c[2010,"x\\"\\u2028"]'


def test_decode_messages() -> None:
    assert decode_messages('["a","b"]') == ["a", "b"]
    assert decode_messages(b'"one"') == ["one"]
    assert decode_messages('["\\ud83d\\ude00"]') == ["\U0001f600"]
    assert decode_messages("[]") == []


@pytest.mark.parametrize(
    ("payload", "answer"),
    [
        ("", "Payload expected."),
        (b"", "Payload expected."),
        ('["x', "Broken JSON encoding."),
        ("[1]", "Broken JSON encoding."),
        ("{}", "Broken JSON encoding."),
        (b"\xff\xfe\x00", "Broken JSON encoding."),
    ],
)
def test_invalid_payloads(payload: bytes | str, answer: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        decode_messages(payload)
    assert str(raised.value) == answer


def test_ids_and_callbacks() -> None:
    assert framing.valid_id("000")
    assert framing.valid_id("abcdefgh_i-j ")
    assert not framing.valid_id("")
    assert not framing.valid_id("a.")
    assert not framing.valid_id("a/b")
    assert framing.valid_callback("jQuery_12.cb")
    for bad in ["", " ", "*", "abc(", "a-b", "x" * 257]:
        assert not framing.valid_callback(bad)


def test_transport_wrapping() -> None:
    assert framing.xhr("o") == "o\n"
    assert framing.eventsource('a["x"]') == 'data: a["x"]\r\n\r\n'
    assert framing.jsonp("cb", 'a["x"]') == 'cb("a[\\"x\\"]");\r\n'
    assert framing.htmlfile('a["x"]') == '<script>\np("a[\\"x\\"]");\n</script>\r\n'
    assert "</script>" not in framing.htmlfile('a["</script>"]').split("\n")[1]


def test_htmlfile_prelude_is_padded_past_a_kilobyte() -> None:
    prelude = framing.htmlfile_prelude("callback")
    assert len(prelude) > 1024
    assert prelude.endswith("\r\n")
    assert "var c = parent.callback;" in prelude
    assert prelude.strip().endswith("</script>")


@given(st.text())
def test_quote_is_json_with_the_sockjs_escapes(text: str) -> None:
    """Whatever path quote takes (ASCII or not), it says what json.dumps says, with
    every code point SockJS escapes written as \\uXXXX, and it decodes back."""
    expected = re.sub(
        "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0604\u070f\u17b4\u17b5\u200c-\u200f\u2028-\u202f"
        "\u2060-\u206f\ufeff\ufff0-\uffff\ud800-\udfff]",
        lambda m: f"\\u{ord(m.group()):04x}",
        json.dumps(text, ensure_ascii=False),
    )
    assert quote(text) == expected
    assert json.loads(quote(text)) == text
