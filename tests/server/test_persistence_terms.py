"""Persistent messages keep their deadline and priority across a restart of ``stompbox
serve`` (killed with SIGKILL): one that expired while the broker was down is never
delivered, the others come back in priority order (issue 17)."""

from __future__ import annotations

import time
from pathlib import Path

from .helpers import stomp_client
from .serve_process import Served
from .test_persistence import drain


def test_deadlines_and_priorities_survive_a_restart(tmp_path: Path) -> None:
    served = Served(tmp_path).start()
    try:
        conn, listener = stomp_client(served.port)
        for body, headers in [
            ("short", {"expiration": "800"}),
            ("long", {"expiration": "600000"}),
            ("plain", {}),
            ("urgent", {"priority": "9", "expires": str(int(time.time() * 1000) + 800)}),
            ("low", {"priority": "0"}),
        ]:
            conn.send("/queue/q", body, headers={**headers, "persistent": "true", "receipt": body})
            assert listener.receipts.get(timeout=5) == body
        sent_at = time.monotonic()
        served.kill()
        time.sleep(max(0.0, 1.2 - (time.monotonic() - sent_at)))  # both short ones expire
        served.start()
        assert drain(served.port) == [
            ("long", None, None),
            ("plain", None, None),
            ("low", None, None),
        ]
    finally:
        served.kill()


def test_an_unexpired_message_is_delivered_after_a_restart(tmp_path: Path) -> None:
    served = Served(tmp_path).start()
    try:
        conn, listener = stomp_client(served.port)
        conn.send(
            "/queue/q",
            "in time",
            headers={"expiration": "600000", "priority": "7", "persistent": "true", "receipt": "r"},
        )
        assert listener.receipts.get(timeout=5) == "r"
        served.kill()
        served.start()
        assert drain(served.port) == [("in time", None, None)]
    finally:
        served.kill()
