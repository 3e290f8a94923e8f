"""``stompbox send``, ``subscribe`` and ``bench`` as real processes against a real broker."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from .support import free_port, run_stompbox, stompbox, wait_for_port


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        stompbox("serve", "--port", str(port), "--ws-port", "0", "--log-level", "warning"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    yield f"stomp://127.0.0.1:{port}/"
    process.terminate()
    process.wait(10)


def start_subscriber(url: str, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        stompbox("subscribe", "--url", url, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # the subscription is live once the process has connected
    return process


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    return out


def test_send_then_subscribe_in_other_processes(broker_url: str) -> None:
    sub = start_subscriber(broker_url, "/topic/cli", "--count", "2")
    for body in ("first", "second"):
        subprocess.run(stompbox("send", "/topic/cli", body, "--url", broker_url), check=True)
    assert finish(sub) == "first\nsecond\n"


def test_queue_waits_for_subscriber_and_lines_from_stdin(broker_url: str) -> None:
    subprocess.run(
        stompbox("send", "/queue/lines", "-", "--lines", "--receipt", "--url", broker_url),
        input=b"one\ntwo\n\nthree\n",
        check=True,
    )
    out = subprocess.run(
        stompbox("subscribe", "/queue/lines", "--count", "3", "--url", broker_url),
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    assert out == "one\ntwo\nthree\n"


def test_headers_verbose_and_json(broker_url: str) -> None:
    subprocess.run(
        stompbox(
            "send",
            "/queue/h",
            '{"a": 1}',
            "-H",
            "x-id:7",
            "--content-type",
            "application/json",
            "--url",
            broker_url,
        ),
        check=True,
    )
    subprocess.run(stompbox("send", "/queue/h", "plain", "--url", broker_url), check=True)
    out = subprocess.run(
        stompbox("subscribe", "/queue/h", "--count", "1", "--json", "--url", broker_url),
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    record = json.loads(out)
    assert record["destination"] == "/queue/h"
    assert record["headers"]["x-id"] == "7"
    assert json.loads(record["body"]) == {"a": 1}
    verbose = subprocess.run(
        stompbox(
            "subscribe", "/queue/h", "--count", "1", "-v", "--ack", "client", "--url", broker_url
        ),
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    head, _, body = verbose.partition("\n\n")
    assert "destination:/queue/h" in head.splitlines()
    assert body == "plain\n"


def test_binary_body_from_stdin(broker_url: str) -> None:
    subprocess.run(
        stompbox("send", "/queue/bin", "-", "--url", broker_url), input=b"\x00\xff\x01", check=True
    )
    out = subprocess.run(
        stompbox("subscribe", "/queue/bin", "--count", "1", "--json", "--url", broker_url),
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    record = json.loads(out)
    assert record["encoding"] == "base64" and record["body"] == "AP8B"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["send", "/queue/a", "x", "-H", "nocolon"], 2, "header 'nocolon' is not name:value"),
        (["send", "/queue/a", "x", "--url", "http://h"], 2, "unsupported URL scheme"),
        (["send", "/nowhere", "x", "--receipt"], 1, "unknown destination"),
        (["send", "/queue/a", "x", "--lines"], 2, "--lines needs the body from stdin"),
    ],
)
def test_errors_are_named(broker_url: str, args: list[str], code: int, message: str) -> None:
    if "--url" not in args:
        args = [*args, "--url", broker_url]
    result = subprocess.run(stompbox(*args), capture_output=True, text=True, timeout=20)
    assert result.returncode == code
    assert message in result.stderr
    assert result.stderr.startswith(f"stompbox {args[0]}: ")


def test_unreachable_broker() -> None:
    result = subprocess.run(
        stompbox("send", "/queue/a", "x", "--url", f"stomp://127.0.0.1:{free_port()}/"),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert "cannot reach 127.0.0.1" in result.stderr


def test_bench_prints_figures(broker_url: str) -> None:
    result = subprocess.run(
        stompbox(
            "bench",
            "--url",
            broker_url,
            "--messages",
            "2000",
            "--fanout-messages",
            "400",
            "--subscribers",
            "5",
            "--seconds",
            "0.5",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.strip().startswith("queue 1->1") and "deliveries/s" in line for line in lines)
    assert any(line.strip().startswith("topic 1->5") and "deliveries/s" in line for line in lines)
    assert any("p99" in line and "ms" in line for line in lines)
    assert "missing" not in result.stdout


def test_bench_refuses_tls_urls() -> None:
    result = subprocess.run(
        stompbox("bench", "--url", "stomps://localhost:61614/"), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "use stomp://, ws:// or wss://" in result.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_stompbox(*args, timeout=20)


def test_subscribe_count_takes_only_what_it_prints(broker_url: str) -> None:
    for number in range(10):
        run_cli("send", "/queue/count", f"m{number}", "--url", broker_url).check_returncode()
    first = run_cli("subscribe", "/queue/count", "--count", "3", "--url", broker_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "m0\nm1\nm2\n"
    rest = run_cli("subscribe", "/queue/count", "--count", "7", "--json", "--url", broker_url)
    assert rest.returncode == 0, rest.stderr
    records = [json.loads(line) for line in rest.stdout.splitlines()]
    assert [record["body"] for record in records] == [f"m{n}" for n in range(3, 10)]
    assert [record["headers"].get("redelivered", "false") for record in records] == ["false"] * 7


def test_subscribe_count_with_a_smaller_prefetch_given(broker_url: str) -> None:
    """A window set with -H still takes exactly N, without waiting on held ACKs."""
    for number in range(6):
        run_cli("send", "/queue/count2", f"m{number}", "--url", broker_url).check_returncode()
    args = ("--url", broker_url, "-H", "prefetch-count:2", "--ack", "client-individual")
    first = run_cli("subscribe", "/queue/count2", "--count", "5", *args)
    assert first.stdout == "".join(f"m{n}\n" for n in range(5)), first.stderr
    last = run_cli("subscribe", "/queue/count2", "--count", "1", "--json", "--url", broker_url)
    [record] = [json.loads(line) for line in last.stdout.splitlines()]
    assert (record["body"], record["headers"].get("redelivered")) == ("m5", None)


def test_send_receipt_confirms_on_stderr(broker_url: str) -> None:
    result = subprocess.run(
        stompbox("send", "/queue/r", "-", "--lines", "--receipt", "--url", broker_url),
        input="a\nb\n",
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == "sent 2 message(s) to /queue/r, each confirmed by a RECEIPT\n"
    quiet = run_cli("send", "/queue/r", "c", "--url", broker_url)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--bogus"],
        ["send", "/queue/a", "x", "--bogus"],
        ["subscribe", "/queue/a", "--bogus=1"],
        ["bench", "--bogus"],
        ["passwd", "users.toml", "ann", "--bogus"],
    ],
)
def test_bad_option_prints_the_subcommands_usage(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: stompbox {args[0]} ")
    assert f"stompbox {args[0]}: error: unrecognized arguments: {args[-1]}" in result.stderr


def test_bad_top_level_option_prints_the_top_usage() -> None:
    result = run_cli("--bogus", "serve")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: stompbox [-h]")
    assert "stompbox: error: unrecognized arguments: --bogus" in result.stderr


def test_bench_names_bad_and_valid_scenarios() -> None:
    # No broker is needed to refuse the option: the check comes before connecting.
    result = run_cli(
        "bench", "--scenarios", "queue,bogus", "--url", f"stomp://127.0.0.1:{free_port()}/"
    )
    assert result.returncode == 2
    assert result.stderr == (
        "stompbox bench: --scenarios: unknown scenario(s) 'bogus'; "
        "choose from queue, topic, latency\n"
    )
