"""Errors the broker reports to a client: each becomes an ERROR frame, then a close."""

from __future__ import annotations

__all__ = ["BrokerError"]


class BrokerError(Exception):
    """A client frame the broker cannot carry out (unknown destination, full queue, ...).

    ``message`` goes in the ERROR frame's ``message`` header, ``detail`` in its body.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        self.message = message
        self.detail = detail
        super().__init__(f"{message}: {detail}" if detail else message)
