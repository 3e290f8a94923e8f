"""The attacks of issue 12, each tried against ``stompbox serve`` over real sockets.

Every test runs the real command in a subprocess (:class:`ServeProcess`), configured as
an operator would (``--users``, ``--trust-login``, ``--config`` with ``[security]``,
``[users]`` and ``[[acl]]``), and attacks it with raw frames, stomp.py or a WebSocket
client. Each assertion is one a server without the protection would fail: an identity
taken on trust, an ERROR that tells which half of a login was wrong, guesses at full
speed, forged broker headers reaching a subscriber, guessable session ids, a wildcard
subscription around an access rule, unbounded connections per address, a bad token let
in, a listener open beyond loopback by default.

Users made here for speed have argon2 hashes with tiny parameters; the one made with
``stompbox passwd`` has the real ones.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import stomp
import trustme
from argon2 import PasswordHasher
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from stompbox.protocol import Frame, FrameParser
from stompbox.security.passwords import UsersFile, hash_password

from ..support import free_port, stompbox
from .helpers import Listener, RawClient, stomp_client
from .serve_process import ServeProcess

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2 parameters no server should use: they keep password checks out of the timings."""

AUTHENTICATION_FAILED = b"ERROR\nmessage:authentication failed\n\n\0"


# -- helpers -------------------------------------------------------------------------------


def frame(command: str, *headers: tuple[str, str], body: str = "") -> bytes:
    head = "".join(f"{name}:{value}\n" for name, value in headers)
    return f"{command}\n{head}\n{body}\0".encode()


def connect(port: int, *headers: tuple[str, str], timeout: float = 5.0) -> tuple[RawClient, Frame]:
    """A raw client that sent CONNECT with ``headers``, and the server's answer."""
    raw = RawClient(port)
    raw.send(frame("CONNECT", ("accept-version", "1.2"), ("host", "x"), *headers))
    answer = raw.next_frame(timeout)
    raw.parser.version = "1.2"
    return raw, answer


def connected(port: int, *headers: tuple[str, str]) -> RawClient:
    raw, answer = connect(port, *headers)
    assert answer.command == "CONNECTED", answer
    return raw


def refused(raw: RawClient, message: str, timeout: float = 5.0) -> Frame:
    """The ERROR ``raw`` gets next, checked to say ``message``; the server then closes."""
    error = raw.next_frame(timeout)
    assert (error.command, error.get("message")) == ("ERROR", message), error
    assert raw.closed_by_server()
    return error


def subscribe(
    raw: RawClient | WebSocketStomp, destination: str, sub_id: str = "0", ack: str = "auto"
) -> None:
    raw.send(
        frame(
            "SUBSCRIBE",
            ("id", sub_id),
            ("destination", destination),
            ("ack", ack),
            ("receipt", f"sub-{sub_id}"),
        )
    )
    answer = raw.next_frame()
    assert (answer.command, answer.get("receipt-id")) == ("RECEIPT", f"sub-{sub_id}"), answer


def send(
    raw: RawClient | WebSocketStomp, destination: str, body: str, *headers: tuple[str, str]
) -> None:
    raw.send(frame("SEND", ("destination", destination), *headers, body=body))


def users_toml(*names: str) -> str:
    """A ``[users]`` table in which each user's password is their name."""
    lines = "".join(f'{name} = "{hash_password(name, hasher=CHEAP)}"\n' for name in names)
    return f"[users]\n{lines}"


class WebSocketStomp:
    """STOMP over a WebSocket to the serve listener, read frame by frame; use it in
    ``with``, which opens the WebSocket (or raises ``InvalidStatus``) and closes it."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers
        self.parser = FrameParser(None)
        self.frames: list[Frame] = []

    def __enter__(self) -> WebSocketStomp:
        self.ws: ClientConnection = ws_connect(
            self.url,
            subprotocols=[Subprotocol("v12.stomp")],
            additional_headers=self.headers,
            proxy=None,
            open_timeout=5,
            close_timeout=1,
        ).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ws.close()

    def send(self, data: bytes) -> None:
        self.ws.send(data.decode())

    def connect(self, *headers: tuple[str, str]) -> Frame:
        self.send(frame("CONNECT", ("accept-version", "1.2"), ("host", "x"), *headers))
        answer = self.next_frame()
        self.parser.version = "1.2"
        return answer

    def next_frame(self, timeout: float = 5.0) -> Frame:
        while not self.frames:
            message = self.ws.recv(timeout)
            self.parser.feed(message.encode() if isinstance(message, str) else message)
            self.frames.extend(self.parser.frames())
        return self.frames.pop(0)


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``stompbox serve`` with nothing but its ports: no authentication, no rules."""
    with ServeProcess(tmp_path_factory.mktemp("default")) as server:
        yield server


# -- 1. identity claims without an authenticator --------------------------------------------


def test_login_is_no_identity_without_an_authenticator(default_server: ServeProcess) -> None:
    port = default_server.port
    subscriber = connected(port)
    subscribe(subscriber, "/queue/claims")
    claimant = connected(port, ("login", "alice"), ("passcode", "anything"))
    send(claimant, "/queue/claims", "who am I?")
    message = subscriber.next_frame()
    assert message.body == b"who am I?"
    assert message.get("user-id") is None
    assert "connected as" in default_server.log()
    assert "'alice'" not in default_server.log()


def test_trust_login_takes_the_login_and_says_so(tmp_path: Path) -> None:
    with ServeProcess(tmp_path, "--trust-login") as server:
        assert "CONNECT's login UNCHECKED (trust_login: development only)" in server.log()
        subscriber = connected(server.port)
        subscribe(subscriber, "/queue/claims")
        claimant = connected(server.port, ("login", "alice"))
        send(claimant, "/queue/claims", "trusted")
        assert subscriber.next_frame().get_all("user-id") == ["alice"]
        warning = "WARNING stompbox.security: 127.0.0.1: trusting login 'alice' unchecked"
        server.wait_for_log(warning)
        peer = f"127.0.0.1:{claimant.sock.getsockname()[1]}"
        server.wait_for_log(f"{peer}: connected as ")
        assert f"{peer}: connected as " in server.log().split(warning)[1]  # that connection


# -- 2. a users file --------------------------------------------------------------------------


@pytest.fixture
def passwd_users(tmp_path: Path) -> Path:
    """A users file as an operator makes one: ``stompbox passwd FILE guest``."""
    users = tmp_path / "users"
    subprocess.run(
        stompbox("passwd", str(users), "guest"), input="guest\n", text=True, check=True, timeout=30
    )
    assert users.read_text().startswith("guest:$argon2id$")
    return users


def test_users_file_admits_its_users_and_tells_nobody_else_why(
    tmp_path: Path, passwd_users: Path
) -> None:
    with ServeProcess(tmp_path, "--users", str(passwd_users)) as server:
        conn, listener = stomp_client(server.port, username="guest", passcode="guest")
        conn.subscribe("/queue/users", id="1")
        conn.send("/queue/users", "as guest")
        message = listener.get()
        assert (message.body, message.headers["user-id"]) == ("as guest", "guest")
        conn.disconnect()

        intruder = stomp.Connection12([("127.0.0.1", server.port)])
        intruder_listener = Listener()
        intruder.set_listener("", intruder_listener)
        with pytest.raises(stomp.exception.ConnectFailedException):
            intruder.connect("guest", "not-guest", wait=True)
        error = intruder_listener.errors.get(timeout=5)
        assert error.headers["message"] == "authentication failed"
        intruder.disconnect()

        # a wrong password, an unknown user and no credentials look the same
        attempts = {
            "wrong password for 'guest'": (("login", "guest"), ("passcode", "guess")),
            "unknown user 'root'": (("login", "root"), ("passcode", "guest")),
            "no credentials, and anonymous clients are refused": (),
        }
        answers = []
        for reason, headers in attempts.items():
            raw, _ = connect(server.port, *headers, timeout=10)
            assert raw.closed_by_server()
            answers.append(raw.raw)
            peer = f"127.0.0.1:{raw.sock.getsockname()[1]}"
            server.wait_for_log(f"{peer}: authentication failed: {reason}")
        assert answers == [AUTHENTICATION_FAILED] * 3


# -- 3. brute force ---------------------------------------------------------------------------


def delays(failures: int) -> float:
    """What ``failures`` failed logins in a row from one address wait in all
    (``FailureDelay``: 0.1 s, doubling)."""
    return sum(0.1 * 2.0**n for n in range(failures))


@pytest.fixture
def cheap_users(tmp_path: Path) -> Path:
    users = UsersFile(hasher=CHEAP)
    users.set("guest", "guest")
    path = tmp_path / "users"
    users.save(path)
    return path


def test_guessing_passwords_slows_down(tmp_path: Path, cheap_users: Path) -> None:
    guesses = 6
    wrong = (("login", "guest"), ("passcode", "wrong"))
    with ServeProcess(tmp_path, "--users", str(cheap_users)) as server:
        took = []
        start = time.monotonic()
        for _ in range(guesses):
            began = time.monotonic()
            raw, answer = connect(server.port, *wrong, timeout=15)
            took.append(time.monotonic() - began)
            assert answer.get("message") == "authentication failed"
            raw.close()
        elapsed = time.monotonic() - start
    for n, seconds in enumerate(took):
        assert seconds >= delays(n + 1) - delays(n) - 0.01, took
    assert elapsed >= delays(guesses) - 0.01
    print(f"\none address, one guess at a time: {guesses / elapsed:.2f} guesses/s")


def test_parallel_guesses_wait_as_long(tmp_path: Path, cheap_users: Path) -> None:
    parallel = 4
    wrong = frame(
        "CONNECT", ("accept-version", "1.2"), ("host", "x"), ("login", "guest"), ("passcode", "x")
    )
    with ServeProcess(tmp_path, "--users", str(cheap_users)) as server:
        start = time.monotonic()
        clients = [RawClient(server.port) for _ in range(parallel)]
        for raw in clients:
            raw.send(wrong)
        for raw in clients:
            assert raw.next_frame(15).get("message") == "authentication failed"
        # every failure of the burst counted: the next guess waits for all of them
        raw, answer = connect(server.port, ("login", "guest"), ("passcode", "y"), timeout=15)
        assert answer.get("message") == "authentication failed"
        elapsed = time.monotonic() - start
    assert elapsed >= delays(parallel + 1) - 0.01
    print(f"\none address, {parallel} at a time: {(parallel + 1) / elapsed:.2f} guesses/s")


# -- 4. forged headers ------------------------------------------------------------------------

FORGED = (
    ("message-id", "forged-message-id"),
    ("subscription", "forged-subscription"),
    ("ack", "forged-ack"),
    ("redelivered", "true"),
    ("redelivery-count", "99"),
    ("original-destination", "/queue/forged-original"),
    ("session", "forged-session"),
    ("user-name", "forged-user-name"),
)
BROKER_ONLY = {name for name, _ in FORGED} - {"message-id", "subscription", "ack"}


def test_forged_broker_headers_never_reach_a_subscriber(default_server: ServeProcess) -> None:
    port = default_server.port
    forger = connected(port)
    send(forger, "/queue/forged", "as nobody", *FORGED, ("user-id", "nobody"), ("receipt", "r"))
    error = refused(forger, "access denied")
    assert error.get("receipt-id") == "r"
    assert b"user-id 'nobody'" in error.body

    subscriber = connected(port)
    subscribe(subscriber, "/queue/forged", "real-sub", ack="client-individual")
    forger = connected(port)
    send(forger, "/queue/forged", "forged", *FORGED, ("x-mine", "kept"))
    message = subscriber.next_frame()
    assert message.body == b"forged"
    assert message.get("subscription") == "real-sub"
    assert message.get("x-mine") == "kept"
    forged_values = {value for _, value in FORGED}
    assert not [header for header in message.headers if header[1] in forged_values], message
    assert not BROKER_ONLY & {name for name, _ in message.headers}, message
    assert message.get_all("message-id") != ["forged-message-id"]
    ack = message.get("ack")
    assert ack is not None
    subscriber.send(frame("ACK", ("id", ack), ("receipt", "acked")))
    assert subscriber.next_frame().get("receipt-id") == "acked"  # the broker's ack works


def test_user_id_is_the_senders_own(tmp_path: Path) -> None:
    with ServeProcess(tmp_path, config=users_toml("alice", "bob")) as server:
        port = server.port
        bob = connected(port, ("login", "bob"), ("passcode", "bob"))
        subscribe(bob, "/queue/for-bob")
        alice = connected(port, ("login", "alice"), ("passcode", "alice"))
        send(alice, "/queue/for-bob", "stamped")
        send(alice, "/queue/for-bob", "claimed", ("user-id", "alice"))
        for body in (b"stamped", b"claimed"):
            message = bob.next_frame()
            assert (message.body, message.get_all("user-id")) == (body, ["alice"])

        send(alice, "/queue/for-bob", "as bob", ("user-id", "bob"), ("receipt", "r"))
        error = refused(alice, "access denied")
        assert error.get("receipt-id") == "r"

        # in a transaction it is refused at SEND, not at COMMIT
        alice = connected(port, ("login", "alice"), ("passcode", "alice"))
        alice.send(frame("BEGIN", ("transaction", "tx")))
        send(
            alice,
            "/queue/for-bob",
            "t",
            ("transaction", "tx"),
            ("user-id", "bob"),
            ("receipt", "t"),
        )
        assert refused(alice, "access denied").get("receipt-id") == "t"
        bob.send(frame("DISCONNECT", ("receipt", "bye")))
        assert bob.next_frame().get("receipt-id") == "bye"  # and nothing came before it


# -- 5. session ids ---------------------------------------------------------------------------


def test_session_ids_are_long_and_random(default_server: ServeProcess) -> None:
    ids = []
    for _ in range(8):
        raw, answer = connect(default_server.port)
        assert answer.command == "CONNECTED"
        ids.append(answer.get("session") or "")
        raw.close()
    assert len(set(ids)) == len(ids), ids
    assert all(len(value) >= 20 for value in ids), ids
    assert len({value[:4] for value in ids}) == len(ids), ids  # no run id, no counter


# -- 6. access rules from the configuration file ----------------------------------------------

ACL_CONFIG = """
[broker]
separator = "."

[security]
anonymous = true

[[acl]]
deny = true
who = "any"
actions = "*"
destinations = "/topic/secret.**"

[[acl]]
who = "any"
actions = "*"
destinations = "/topic/**"

[[acl]]
who = "authenticated"
actions = "subscribe"
destinations = "/queue/private.{user}"

[[acl]]
who = "authenticated"
actions = "send"
destinations = "/queue/private.*"

[[acl]]
who = "anonymous"
actions = "send"
destination = "/queue/inbox"

[[acl]]
who = "authenticated"
actions = "subscribe"
destination = "/queue/inbox"
"""


@pytest.fixture(scope="module")
def acl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    config = ACL_CONFIG + users_toml("alice", "bob")
    with ServeProcess(tmp_path_factory.mktemp("acl"), config=config) as server:
        assert "6 access rule(s), default deny" in server.log()
        yield server


def login(port: int, name: str) -> RawClient:
    return connected(port, ("login", name), ("passcode", name))


def assert_denied(raw: RawClient, command: str, destination: str, who: str) -> None:
    """Send ``command`` to ``destination`` with a receipt; it must be refused, by name."""
    headers = [("destination", destination), ("receipt", "denied")]
    if command == "SUBSCRIBE":
        headers.append(("id", "0"))
    raw.send(frame(command, *headers, body="x" if command == "SEND" else ""))
    error = refused(raw, "access denied")
    assert error.get("receipt-id") == "denied"
    assert error.body.decode() == f"{command} to {destination} is not allowed for {who}"


def test_acl_allows_what_its_rules_allow(acl_server: ServeProcess) -> None:
    port = acl_server.port
    alice = login(port, "alice")
    subscribe(alice, "/queue/private.alice", "private")
    subscribe(alice, "/topic/news.*", "news")
    subscribe(alice, "/queue/inbox", "inbox")
    bob = login(port, "bob")
    send(bob, "/queue/private.alice", "for alice")
    send(bob, "/topic/news.today", "news")
    anonymous = connected(port)
    send(anonymous, "/queue/inbox", "a tip", ("receipt", "sent"))
    assert anonymous.next_frame().get("receipt-id") == "sent"
    bodies = {alice.next_frame().body for _ in range(3)}
    assert bodies == {b"for alice", b"news", b"a tip"}


@pytest.mark.parametrize(
    ("who", "command", "destination"),
    [
        ("alice", "SUBSCRIBE", "/queue/private.bob"),  # {user} is the caller's own name
        (None, "SUBSCRIBE", "/queue/private.alice"),  # no name: {user} matches nothing
        (None, "SEND", "/queue/private.alice"),  # authenticated only
        ("alice", "SEND", "/queue/inbox"),  # anonymous only
        (None, "SUBSCRIBE", "/queue/inbox"),  # authenticated only
        ("alice", "SEND", "/topic/secret.plans"),
        ("alice", "SUBSCRIBE", "/topic/**"),  # would reach /topic/secret.plans
        ("alice", "SUBSCRIBE", "/topic/*.plans"),  # so would this
        ("alice", "SEND", "/queue/unlisted"),  # no rule: denied
    ],
)
def test_acl_denies_the_rest_by_name(
    acl_server: ServeProcess, who: str | None, command: str, destination: str
) -> None:
    raw = connected(acl_server.port) if who is None else login(acl_server.port, who)
    described = "an anonymous client" if who is None else f"user {who!r}"
    assert_denied(raw, command, destination, described)


# -- 7. per-address limits --------------------------------------------------------------------


def test_connections_per_address_are_bounded(tmp_path: Path) -> None:
    config = "[server]\nmax_connections_per_address = 3\n"
    with ServeProcess(tmp_path, config=config, ws=True) as server:
        url = f"ws://127.0.0.1:{server.ws_port}/ws"
        clients = [connected(server.port) for _ in range(2)]
        with WebSocketStomp(url) as websocket:  # all transports count together
            assert websocket.connect().command == "CONNECTED"
            refused(RawClient(server.port), "max_connections_per_address limit of 3 exceeded")
            with pytest.raises(InvalidStatus) as refusal, WebSocketStomp(url):
                pass
            response = refusal.value.response
            assert response.status_code == 503
            assert b"max_connections_per_address limit of 3 exceeded" in response.body
            log = server.log()
            assert log.count("refused, max_connections_per_address reached") == 2

            clients.pop().close()  # a bound, not a ban: a closed connection makes room
            deadline = time.monotonic() + 5
            while True:
                _, answer = connect(server.port)
                if answer.command == "CONNECTED" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert answer.command == "CONNECTED", answer


def test_connect_attempts_per_address_are_bounded(tmp_path: Path) -> None:
    config = "[server]\nconnect_attempts_per_minute = 5\n"
    with ServeProcess(tmp_path, config=config) as server:
        for _ in range(5):
            raw = connected(server.port)
            raw.close()
        raw, answer = connect(server.port)
        assert (answer.command, answer.get("message")) == (
            "ERROR",
            "connect_attempts_per_minute limit of 5 exceeded",
        )
        assert b"too many CONNECT frames from 127.0.0.1" in answer.body


def test_subscriptions_and_transactions_are_bounded(tmp_path: Path) -> None:
    config = "[broker]\nmax_subscriptions = 2\nmax_transactions = 1\n"
    with ServeProcess(tmp_path, config=config) as server:
        raw = connected(server.port)
        subscribe(raw, "/topic/a", "1")
        subscribe(raw, "/topic/b", "2")
        raw.send(frame("SUBSCRIBE", ("id", "3"), ("destination", "/topic/c")))
        refused(raw, "max_subscriptions limit of 2 exceeded")

        raw = connected(server.port)
        raw.send(frame("BEGIN", ("transaction", "t1")))
        raw.send(frame("BEGIN", ("transaction", "t2")))
        refused(raw, "max_transactions limit of 1 exceeded")


# -- 8. JWT bearer tokens ---------------------------------------------------------------------

SECRET = "a-secret-for-tests-that-is-32-bytes-or-more"
AUDIENCE = "stompbox-tests"


def token(
    subject: str = "alice",
    *,
    secret: str = SECRET,
    audience: str = AUDIENCE,
    expires_in: float = 60.0,
) -> str:
    claims = {"sub": subject, "aud": audience, "exp": int(time.time() + expires_in)}
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    config = f'[security]\njwt_secret = "{SECRET}"\njwt_audience = "{AUDIENCE}"\n'
    with ServeProcess(tmp_path_factory.mktemp("jwt"), config=config, ws=True) as server:
        assert "authentication: JWT bearer tokens; anonymous clients refused" in server.log()
        yield server


def test_jwt_in_the_passcode_names_the_user(jwt_server: ServeProcess) -> None:
    port = jwt_server.port
    alice = connected(port, ("passcode", token("alice")))
    subscribe(alice, "/queue/jwt")
    send(alice, "/queue/jwt", "signed")
    assert alice.next_frame().get_all("user-id") == ["alice"]


@pytest.mark.parametrize("where", ["query", "header"])
def test_jwt_in_the_websocket_handshake(jwt_server: ServeProcess, where: str) -> None:
    url = f"ws://127.0.0.1:{jwt_server.ws_port}/ws"
    headers = None
    if where == "query":
        url += f"?access_token={token('carol')}"
    else:
        headers = {"Authorization": f"Bearer {token('carol')}"}
    with WebSocketStomp(url, headers) as websocket:
        assert websocket.connect().command == "CONNECTED"  # no login, no passcode
        subscribe(websocket, "/queue/jwt-ws")
        send(websocket, "/queue/jwt-ws", "via the handshake")
        assert websocket.next_frame().get_all("user-id") == ["carol"]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"expires_in": -60}, "token expired"),
        ({"secret": "another-secret-that-is-also-32-bytes-long"}, "token has a bad signature"),
        ({"audience": "another-service"}, "token for another audience"),
    ],
)
def test_bad_tokens_are_refused(jwt_server: ServeProcess, bad: dict[str, Any], reason: str) -> None:
    raw, _ = connect(jwt_server.port, ("passcode", token(**bad)), timeout=10)
    assert raw.closed_by_server()
    assert raw.raw == AUTHENTICATION_FAILED
    peer = f"127.0.0.1:{raw.sock.getsockname()[1]}"
    jwt_server.wait_for_log(f"{peer}: authentication failed: {reason}")


def test_no_token_over_websocket_is_refused(jwt_server: ServeProcess) -> None:
    with WebSocketStomp(f"ws://127.0.0.1:{jwt_server.ws_port}/ws") as websocket:
        answer = websocket.connect()
        assert (answer.command, answer.get("message")) == ("ERROR", "authentication failed")


def test_a_refused_websocket_is_closed_at_once(jwt_server: ServeProcess) -> None:
    with WebSocketStomp(f"ws://127.0.0.1:{jwt_server.ws_port}/ws") as websocket:
        peer = f"ws:127.0.0.1:{websocket.ws.local_address[1]}"
        assert websocket.connect().get("message") == "authentication failed"
        jwt_server.wait_for_log(f"{peer}: closed before connecting", timeout=2)


# -- 9. client certificates -------------------------------------------------------------------


def test_client_certificate_names_the_user(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    leaf = ca.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    alice = ca.issue_cert("alice@example.com", common_name="alice")
    tls_port = free_port()
    args = ["--tls-cert", str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "server.key")]
    args += ["--tls-ca", str(tmp_path / "ca.pem"), "--tls-port", str(tls_port)]
    config = "[security]\ncert_login = true\n"

    def tls_client(cert: bool) -> RawClient:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        if cert:
            alice.configure_cert(context)
        raw = RawClient(tls_port)
        raw.sock = context.wrap_socket(raw.sock, server_hostname="127.0.0.1")
        return raw

    with ServeProcess(tmp_path, *args, config=config) as server:
        assert "authentication: TLS client certificates; anonymous clients refused" in server.log()
        raw = tls_client(cert=True)
        raw.send(frame("CONNECT", ("accept-version", "1.2"), ("host", "x")))
        assert raw.next_frame().command == "CONNECTED"
        raw.parser.version = "1.2"
        subscribe(raw, "/queue/cert")
        send(raw, "/queue/cert", "from alice's certificate")
        assert raw.next_frame().get_all("user-id") == ["alice"]
        server.wait_for_log("user 'alice' (tls-cert)")

        raw.close()
        anonymous = tls_client(cert=False)
        anonymous.send(frame("CONNECT", ("accept-version", "1.2"), ("host", "x")))
        refused(anonymous, "authentication failed")
        anonymous.close()
        _, answer = connect(server.port, timeout=10)  # the plain port: no certificate at all
        assert answer.get("message") == "authentication failed"


# -- 10. the default -------------------------------------------------------------------------


def tcp_listeners(port: int) -> list[str]:
    """The addresses sockets listen on at ``port``, from ``/proc/net/tcp`` and ``tcp6``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(str(ipaddress.ip_address(words)))
    return found


def own_address() -> str | None:
    """This machine's address on its default route, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


def test_default_serve_listens_on_loopback_and_says_what_it_trusts(
    default_server: ServeProcess,
) -> None:
    port = default_server.port
    log = default_server.log()
    assert f"stompbox listening on 127.0.0.1:{port} " in log
    assert (
        "authentication: none; anonymous clients allowed; no access rules: every client may "
        "use every destination"
    ) in log
    assert "no authentication and no access rules" not in log  # the warning is for 0.0.0.0
    if Path("/proc/net/tcp").exists():
        assert tcp_listeners(port) == ["127.0.0.1"]
    address = own_address()
    if address is not None:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, port), timeout=5).close()
