"""``stompbox serve --app X --config FILE``: the file's sections reach the app, and what
cannot (a ``[broker]``, security set twice) stops the start with a message that says so,
rather than a server that quietly runs without them."""

from __future__ import annotations

from pathlib import Path

from ..support import run_stompbox
from .helpers import RawClient
from .serve_process import ServeProcess
from .test_security import users_toml

PLAIN_APP = "from stompbox.app import StompApp\n\napp = StompApp()\n"
GUARDED_APP = "from stompbox.app import StompApp\n\napp = StompApp(require_auth=True)\n"


def app_file(tmp_path: Path, source: str) -> str:
    path = tmp_path / "myapp.py"
    path.write_text(source)
    return f"{path}:app"


def connect(
    port: int, login: str = "", passcode: str = ""
) -> tuple[RawClient, str, dict[str, str]]:
    client = RawClient(port)
    credentials = f"login:{login}\npasscode:{passcode}\n" if login else ""
    client.send(f"CONNECT\naccept-version:1.2\nhost:x\n{credentials}\n\0".encode())
    frame = client.next_frame()
    return client, frame.command, dict(frame.headers)


def test_the_files_users_acl_and_server_keys_apply_to_the_app(tmp_path: Path) -> None:
    config = (
        '[server]\nserver_name = "orders/1"\n\n'
        + users_toml("alice")
        + '\n[[acl]]\nwho = "user:alice"\nactions = "send"\ndestinations = "/topic/orders/**"\n'
    )
    with ServeProcess(tmp_path, "--app", app_file(tmp_path, PLAIN_APP), config=config) as serve:
        assert "authentication: 1 user(s) with argon2 password hashes" in serve.log()
        _, command, headers = connect(serve.port)  # anonymous: refused now
        assert command == "ERROR"
        client, command, headers = connect(serve.port, "alice", "alice")
        assert command == "CONNECTED"
        assert headers["server"] == "orders/1"
        client.send(b"SEND\ndestination:/topic/other\nreceipt:r\n\nx\0")
        refused = client.next_frame()
        assert refused.command == "ERROR"  # no rule allows it
        assert dict(refused.headers)["message"] == "access denied"


def test_a_broker_section_is_refused_not_ignored(tmp_path: Path) -> None:
    config = tmp_path / "stompbox.toml"
    config.write_text(f'[broker]\nstore = "{tmp_path / "messages.db"}"\n')
    app = app_file(tmp_path, PLAIN_APP)
    done = run_stompbox("serve", "--app", app, "--config", str(config), "--port", "0")
    assert done.returncode == 2
    assert "[broker]" in done.stderr and "StompApp(config=" in done.stderr
    done = run_stompbox("serve", "--app", app, "--slow-consumer-policy", "drop", "--port", "0")
    assert done.returncode == 2
    assert "--slow-consumer-policy" in done.stderr


def test_security_in_both_the_file_and_the_apps_code_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "stompbox.toml"
    config.write_text(users_toml("alice"))
    done = run_stompbox("serve", "--app", app_file(tmp_path, GUARDED_APP), "--config", str(config))
    assert done.returncode == 2
    assert "keep it in one place" in done.stderr
    assert str(config) in done.stderr
