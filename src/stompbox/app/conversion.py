"""Payloads in and out: JSON by content-type, into dataclasses or pydantic models."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

__all__ = ["ConversionError", "decode_payload", "encode_payload"]


class ConversionError(ValueError):
    """The payload could not become what the handler asked for."""


def decode_payload(body: bytes, content_type: str | None, target: Any) -> Any:
    """Turn a body into ``target`` (a type annotation, or ``Any`` for "as the sender meant")."""
    if target is bytes:
        return body
    media = (content_type or "").split(";", 1)[0].strip().lower()
    is_json = media == "application/json" or media.endswith("+json")
    if target is str:
        return _text(body)
    if not is_json and target in (Any, None, typing.Any):
        if media.startswith("text/") or not media:
            try:
                return body.decode()
            except UnicodeDecodeError:
                return body
        return body
    try:
        data = json.loads(body) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConversionError(f"payload is not valid JSON ({exc})") from None
    return convert(data, target)


def convert(data: Any, target: Any) -> Any:
    """Convert decoded JSON into ``target``: dataclass, pydantic model, or plain types."""
    if target in (Any, None, typing.Any, object):
        return data
    origin = typing.get_origin(target)
    if hasattr(target, "model_validate"):  # pydantic v2
        try:
            return target.model_validate(data)
        except Exception as exc:
            raise ConversionError(f"payload does not fit {target.__name__}: {exc}") from None
    if dataclasses.is_dataclass(target) and isinstance(target, type):
        if not isinstance(data, dict):
            raise ConversionError(
                f"{target.__name__} needs a JSON object, not {type(data).__name__}"
            )
        hints = typing.get_type_hints(target)
        names = {f.name for f in dataclasses.fields(target)}
        unknown = set(data) - names
        if unknown:
            raise ConversionError(f"{target.__name__} has no field(s) {', '.join(sorted(unknown))}")
        values = {}
        for key, value in data.items():
            try:
                values[key] = convert(value, hints.get(key, Any))
            except ConversionError as exc:  # say where, however deep
                raise ConversionError(f"{target.__name__}.{key}: {exc}") from None
        try:
            return target(**values)
        except TypeError as exc:
            raise ConversionError(f"payload does not fit {target.__name__}: {exc}") from None
    if origin in (list, tuple, set, frozenset):
        if not isinstance(data, list):
            raise ConversionError(f"expected a JSON array, not {type(data).__name__}")
        (item,) = typing.get_args(target)[:1] or (Any,)
        return origin(convert(v, item) for v in data)
    if origin is dict:
        if not isinstance(data, dict):
            raise ConversionError(f"expected a JSON object, not {type(data).__name__}")
        return data
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = typing.get_args(target)
        if data is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(data, arg)
            except ConversionError:
                continue
        raise ConversionError(f"payload fits none of {target}")
    if isinstance(target, type):
        if target is float and isinstance(data, int) and not isinstance(data, bool):
            return float(data)
        if not isinstance(data, target) or (target is int and isinstance(data, bool)):
            raise ConversionError(f"expected {target.__name__}, got {type(data).__name__}")
    return data


def _text(body: bytes) -> str:
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise ConversionError("payload is not UTF-8 text") from None


def encode_payload(value: Any) -> tuple[bytes, str | None]:
    """A handler's return value as a body: bytes as is, str as text, the rest as JSON."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if isinstance(value, str):
        return value.encode(), "text/plain;charset=utf-8"
    return json.dumps(to_jsonable(value), separators=(",", ":")).encode(), "application/json"


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value
