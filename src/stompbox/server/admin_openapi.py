"""The OpenAPI 3.1 document of the management API (``GET /api/openapi.json``).

Written by hand, beside the routes rather than generated from them, so that it says what
each answer means; a test checks that it names exactly the routes :mod:`.admin` serves
and that it is a valid OpenAPI document.
"""

from __future__ import annotations

from typing import Any, Final

from stompbox._version import __version__

__all__ = ["OPENAPI"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _object(required: bool = True, **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(properties)
    return schema


def _optional(schema: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """``schema`` with ``properties`` that an object may leave out."""
    return {**schema, "properties": {**schema["properties"], **properties}}


_INT: Final = {"type": "integer", "minimum": 0}
_RATE: Final = {"type": "number", "minimum": 0, "description": "per second, last interval"}
_TEXT: Final = {"type": "string"}
_MAYBE_TEXT: Final = {"type": ["string", "null"]}

_ERROR: Final = _json("What was wrong", _ref("Error"))
_NO_QUEUE: Final = _json("No queue of that name", _ref("Error"))
_QUEUE_NAME: Final = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The queue's full destination, percent-encoded as one segment "
    "(/queue/orders is %2Fqueue%2Forders)",
    "schema": _TEXT,
}

_SCHEMAS: Final[dict[str, Any]] = {
    "Error": _object(error=_TEXT),
    "Overview": _object(
        version=_TEXT,
        uptime_seconds={"type": "number"},
        connections=_INT,
        sessions=_INT,
        subscriptions=_INT,
        queues=_INT,
        messages=_object(
            published=_INT,
            delivered=_INT,
            redelivered=_INT,
            dead_lettered=_INT,
            dropped_slow_consumer=_INT,
        ),
        rates=_object(published_per_second=_RATE, delivered_per_second=_RATE),
        memory=_object(used_bytes={"type": "integer"}, budget_bytes=_INT),
    ),
    "Connection": _object(
        id={"type": "string", "description": "The registry's number for it, from 1"},
        peer=_TEXT,
        address=_TEXT,
        transport={"enum": ["tcp", "tls", "ws", "wss", "sockjs"]},
        user=_MAYBE_TEXT,
        session={"type": ["string", "null"], "description": "null before CONNECT"},
        version={"type": ["string", "null"], "description": "STOMP version negotiated"},
        opened_at={"type": "number", "description": "seconds since the epoch"},
        age_seconds={"type": "number"},
        bytes_in=_INT,
        bytes_out=_INT,
        subscriptions=_INT,
    ),
    "Subscription": _optional(
        _object(
            connection=_MAYBE_TEXT,
            session={"type": ["string", "null"], "description": "null: a durable one, away"},
            id={"type": "string", "description": "a durable one's name while it is away"},
            destination={"type": "string", "description": "a durable one's topic"},
            ack={"enum": ["auto", "client", "client-individual", None]},
            unacked=_INT,
            prefetch={**_INT, "description": "prefetch-count; 0 is unbounded"},
        ),
        durable=_ref("DurableSubscription"),
    ),
    "DurableSubscription": _object(
        name=_TEXT,
        user=_MAYBE_TEXT,
        client_id={"type": ["string", "null"], "description": "CONNECT's client-id"},
        queue={"type": "string", "description": "the queue that keeps its messages"},
        messages={**_INT, "description": "waiting in that queue"},
        active={"type": "boolean", "description": "whether a connection consumes it now"},
    ),
    "Queue": _object(
        name=_TEXT,
        messages={**_INT, "description": "waiting to be delivered"},
        bytes={**_INT, "description": "body bytes waiting"},
        consumers=_INT,
        unacked={**_INT, "description": "delivered, not acknowledged yet"},
        published=_INT,
        delivered=_INT,
        dead_letter={"type": "boolean"},
        durable_subscription={
            "type": ["string", "null"],
            "description": "the durable subscription whose messages it keeps",
        },
        published_per_second=_RATE,
        delivered_per_second=_RATE,
    ),
    "QueuePoint": _object(
        at={"type": "number", "description": "seconds since the epoch"},
        messages=_INT,
        published_per_second=_RATE,
        delivered_per_second=_RATE,
    ),
    "Message": _object(
        message_id=_TEXT,
        headers={
            "type": "array",
            "description": "[name, value] pairs, in order, repeats kept",
            "items": {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 2},
        },
        body=_TEXT,
        encoding={"enum": ["utf-8", "base64"]},
        size=_INT,
        redelivered={"type": "boolean"},
        redeliveries=_INT,
    ),
}


def _get(summary: str, answer: dict[str, Any], *errors: tuple[str, Any]) -> dict[str, Any]:
    return {"summary": summary, "responses": {"200": answer, **dict(errors)}}


OPENAPI: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "stompbox management API",
        "version": __version__,
        "description": "With users configured, every route needs HTTP Basic credentials "
        "of a user with the 'management' role (401 otherwise).",
    },
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
    },
    "security": [{"basic": []}],
    "paths": {
        "/api/overview": {
            "get": _get("The broker at a glance", _json("Overview", _ref("Overview")))
        },
        "/api/connections": {
            "get": _get(
                "Open client connections",
                _json("Connections", {"type": "array", "items": _ref("Connection")}),
            )
        },
        "/api/connections/{id}": {
            "delete": {
                "summary": "Close a connection: its client gets an ERROR "
                "'closed by an administrator' with the reason as its body",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": _TEXT},
                    {
                        "name": "reason",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 1000},
                    },
                ],
                "responses": {
                    "200": _json("Closing", _object(closed=_TEXT, peer=_TEXT)),
                    "400": _ERROR,
                    "404": _json("No open connection with that id", _ref("Error")),
                },
            }
        },
        "/api/subscriptions": {
            "get": _get(
                "Every subscription of every session",
                _json("Subscriptions", {"type": "array", "items": _ref("Subscription")}),
            )
        },
        "/api/queues": {
            "get": _get(
                "Every queue the broker holds",
                _json("Queues", {"type": "array", "items": _ref("Queue")}),
            )
        },
        "/api/queues/{name}": {
            "parameters": [_QUEUE_NAME],
            "get": _get(
                "One queue, with its recent history (a sample every 5 s, 10 minutes)",
                _json(
                    "The queue",
                    {
                        "allOf": [
                            _ref("Queue"),
                            _object(
                                history={"type": "array", "items": _ref("QueuePoint")},
                            ),
                        ]
                    },
                ),
                ("404", _NO_QUEUE),
            ),
        },
        "/api/queues/{name}/messages": {
            "parameters": [_QUEUE_NAME],
            "get": {
                "summary": "The first waiting messages, without consuming them",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20},
                    }
                ],
                "responses": {
                    "200": _json("Messages", {"type": "array", "items": _ref("Message")}),
                    "400": _ERROR,
                    "404": _NO_QUEUE,
                },
            },
            "delete": _get(
                "Purge: drop every waiting message (unacked ones stay with their consumers)",
                _json("How many were dropped", _object(purged=_INT)),
                ("404", _NO_QUEUE),
            ),
        },
        "/api/queues/{name}/requeue": {
            "parameters": [_QUEUE_NAME],
            "post": {
                "summary": "Move messages from the head of a dead-letter queue, in order, "
                "to their original destination (or to 'to')",
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": _object(
                                required=False,
                                to={"type": "string", "description": "needed unless a DLQ"},
                                limit={
                                    "type": "integer",
                                    "minimum": 1,
                                    "maximum": 10_000,
                                    "default": 1000,
                                },
                            )
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        "How many were moved, and why it stopped early if it did",
                        {
                            **_object(required=False, moved=_INT, stopped=_TEXT),
                            "required": ["moved"],
                        },
                    ),
                    "400": _ERROR,
                    "404": _NO_QUEUE,
                },
            },
        },
        "/api/openapi.json": {
            "get": _get("This document", _json("OpenAPI 3.1", {"type": "object"}))
        },
    },
}
