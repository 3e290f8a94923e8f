"""`/metrics` of `stompbox serve --relay`: the frames a relayed broker sends a client
through stompbox are counted as stompbox's own are."""

from __future__ import annotations

import uuid

import pytest

from ..server.helpers import RawClient
from ..server.test_management import serving
from ..server.test_metrics import one, scrape

pytestmark = pytest.mark.rabbitmq


def test_relayed_receipts_and_messages_are_counted(rabbitmq: str) -> None:
    queue = f"/queue/metrics-{uuid.uuid4().hex[:8]}"
    with serving("--relay", rabbitmq) as (port, http, _):
        client = RawClient(port)
        client.connect()
        client.send(f"SUBSCRIBE\nid:1\ndestination:{queue}\nreceipt:s\n\n\0".encode())
        assert client.next_frame(10).command == "RECEIPT"
        for n in range(3):
            client.send(f"SEND\ndestination:{queue}\nreceipt:r{n}\n\nm{n}\0".encode())
        frames = [client.next_frame(10) for _ in range(6)]
        assert sorted(f.command for f in frames) == ["MESSAGE"] * 3 + ["RECEIPT"] * 3
        found = scrape(http)
        assert one(found, "stompbox_frames_sent_total", command="RECEIPT") == 4
        assert one(found, "stompbox_frames_sent_total", command="MESSAGE") == 3
        assert one(found, "stompbox_frames_received_total", command="SEND") == 3
