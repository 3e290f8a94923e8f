"""`stompbox serve --log-format json --stats-interval`: what an operator's log shipper
reads, and Spring's periodic statistics line."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from stompbox.cli.links import stomp_connect
from stompbox.net import parse_url

from .support import free_port, stompbox, wait_for_port


def test_json_logs_and_a_stats_line() -> None:
    port = free_port()
    process = subprocess.Popen(
        stompbox(
            "serve",
            "--port",
            str(port),
            "--ws-port",
            "0",
            "--log-format",
            "json",
            "--stats-interval",
            "0.5",
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        link = stomp_connect(parse_url(f"stomp://127.0.0.1:{port}/"))
        link.send(b"SEND\ndestination:/queue/logs\n\nx\0")
        time.sleep(1.2)
        link.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    entries = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    stats = [e["message"] for e in entries if e["message"].startswith("stats:")]
    assert len(stats) >= 2  # at least one periodic line, and the last one on stopping
    assert "1 connection(s)" in stats[0] and "published 1" in stats[0]
    assert any("listening on 127.0.0.1" in e["message"] for e in entries)
