"""STOMP over TLS and WSS: certificates from ``trustme``, real clients (stompbox's own,
stomp.py, the ``websockets`` library) on real sockets, client certificates, and
certificate reloads that leave open connections alone.

``tls_port=0`` turns TLS off, so these servers listen on a :func:`free_port` instead of
an ephemeral one.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import stomp
import trustme
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

import stompbox
from stompbox.protocol import Frame, FrameParser
from stompbox.server import ConfigError, ServerConfig, ServerSession, start_server
from stompbox.server.tls import reload, server_context

from ..support import free_port, run, wait_for_port
from ..support import stompbox as stompbox_command
from .helpers import Listener, ServerThread
from .serve_process import ServeProcess

CONNECT = b"CONNECT\naccept-version:1.2\nhost:127.0.0.1\n\n\0"


class Pki:
    """A CA, the server's certificate and key in files, and a client certificate (CN
    alice) from the same CA."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cert = directory / "server.pem"
        self.key = directory / "server.key"
        self.ca_file = directory / "ca.pem"
        self.client_cert = directory / "alice.pem"
        self.client_key = directory / "alice.key"
        self.ca = trustme.CA()
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.client = self.ca.issue_cert("alice@example.com", common_name="alice")
        self.client.cert_chain_pems[0].write_to_path(str(self.client_cert))
        self.client.private_key_pem.write_to_path(str(self.client_key))
        self.renew(self.ca)

    def renew(self, ca: trustme.CA) -> None:
        """Replace the server's certificate and key files with ones ``ca`` issued."""
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        with self.cert.open("wb") as file:
            for pem in leaf.cert_chain_pems:
                file.write(pem.bytes())
        leaf.private_key_pem.write_to_path(str(self.key))

    def config(self, **settings: Any) -> ServerConfig:
        settings.setdefault("tls_cert", str(self.cert))
        settings.setdefault("tls_key", str(self.key))
        settings.setdefault("ws_port", 0)
        return ServerConfig(port=0, tls_port=free_port(), **settings)

    def client_context(self, ca: trustme.CA | None = None, *, cert: bool = False) -> ssl.SSLContext:
        """A client context trusting ``ca`` (ours by default), presenting alice's
        certificate if ``cert``."""
        context = ssl.create_default_context()
        (ca or self.ca).configure_trust(context)
        if cert:
            self.client.configure_cert(context)
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def common_name(cert: Mapping[str, Any] | None) -> str | None:
    if cert is None:
        return None
    return dict(rdn[0] for rdn in cert["subject"]).get("commonName")


def only_session(sessions: set[ServerSession]) -> ServerSession:
    (session,) = sessions
    return session


# -- clients over TLS and WSS --------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["stomps", "wss"])
def test_stompbox_client_over_tls_and_wss(pki: Pki, scheme: str) -> None:
    async def main() -> None:
        async with start_server(pki.config(ws_port=free_port())) as server:
            port, path = (server.tls_port, "/") if scheme == "stomps" else (server.ws_port, "/ws")
            async with (
                stompbox.connect(
                    f"{scheme}://127.0.0.1:{port}{path}", ssl=pki.client_context()
                ) as client,
                client.subscribe("/queue/tls") as sub,
            ):
                await client.send("/queue/tls", "secret", receipt=True)
                assert (await sub.get(5)).text == "secret"
                session = only_session(server.connections)
                assert session.peer.startswith("tls:127.0.0.1:" if scheme == "stomps" else "ws:")
                assert session.client_cert is None  # no tls_ca: none asked for
            async with stompbox.connect(f"stomp://127.0.0.1:{server.port}/") as plain:
                await plain.send("/queue/tls", "the plain port stays plain", receipt=True)

    run(main())


def test_websockets_library_over_wss(pki: Pki) -> None:
    async def main() -> None:
        async with start_server(pki.config(ws_port=free_port())) as server:
            parser = FrameParser(None)

            async def frame() -> Frame:
                while not (frames := list(parser.frames())):
                    message = await asyncio.wait_for(websocket.recv(), 5)
                    parser.feed(message.encode() if isinstance(message, str) else message)
                (only,) = frames
                return only

            async with ws_connect(
                f"wss://127.0.0.1:{server.ws_port}/ws",
                ssl=pki.client_context(),
                subprotocols=[Subprotocol("v12.stomp")],
            ) as websocket:
                assert websocket.subprotocol == "v12.stomp"
                await websocket.send(CONNECT.decode())
                assert (await frame()).command == "CONNECTED"
                parser.version = "1.2"
                await websocket.send("SUBSCRIBE\nid:0\ndestination:/topic/t\nreceipt:s\n\n\0")
                assert (await frame()).command == "RECEIPT"
                await websocket.send("SEND\ndestination:/topic/t\n\nover wss\0")
                message = await frame()
                assert (message.command, message.body) == ("MESSAGE", b"over wss")

    run(main())


def stomppy_tls(port: int, pki: Pki, ca_file: Path | None = None, **ssl: Any) -> Any:
    """A stomp.py 1.2 connection over TLS to ``port`` (not yet connected)."""
    conn = stomp.Connection12([("127.0.0.1", port)])
    conn.set_ssl(for_hosts=[("127.0.0.1", port)], ca_certs=str(ca_file or pki.ca_file), **ssl)
    return conn


def test_stomppy_over_tls(pki: Pki) -> None:
    with ServerThread(pki.config()) as thread:
        assert thread.server is not None
        conn = stomppy_tls(thread.server.tls_port, pki)
        listener = Listener()
        conn.set_listener("", listener)
        conn.connect("guest", "guest", wait=True)
        conn.subscribe("/queue/stomppy", id="1")
        conn.send("/queue/stomppy", "through TLS")
        assert listener.get().body == "through TLS"
        conn.disconnect()


def test_tls_1_1_is_refused(pki: Pki) -> None:
    with ServerThread(pki.config()) as thread:
        assert thread.server is not None
        port = thread.server.tls_port
        assert server_context(thread.config) is not None

        def handshake(version: ssl.TLSVersion) -> None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 is
                context.minimum_version = context.maximum_version = version
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
                context.wrap_socket(sock) as tls,
            ):
                assert tls.version() == version.name.replace("_", ".")

        handshake(ssl.TLSVersion.TLSv1_2)
        with pytest.raises(ssl.SSLError) as info:
            handshake(ssl.TLSVersion.TLSv1_1)
        if info.value.reason == "NO_PROTOCOLS_AVAILABLE":
            pytest.skip("this OpenSSL will not offer TLS 1.1 even when asked to")
        # the server's alert, or its close before it (asyncio drops the alert at times)
        assert info.value.reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNEXPECTED_EOF_WHILE_READING")
        assert not thread.server.connections


# -- client certificates -------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["stomps", "wss"])
def test_client_certificate_reaches_the_session(pki: Pki, scheme: str) -> None:
    async def main() -> None:
        config = pki.config(ws_port=free_port(), tls_ca=str(pki.ca_file))
        async with start_server(config) as server:
            port, path = (server.tls_port, "/") if scheme == "stomps" else (server.ws_port, "/ws")
            url = f"{scheme}://127.0.0.1:{port}{path}"
            async with stompbox.connect(url, ssl=pki.client_context(cert=True)) as client:
                await client.send("/queue/cert", "as alice", receipt=True)
                assert common_name(only_session(server.connections).client_cert) == "alice"
            async with stompbox.connect(url, ssl=pki.client_context()) as anonymous:
                await anonymous.send("/queue/cert", "optional means optional", receipt=True)
                assert only_session(server.connections).client_cert is None

    run(main())


def test_stomppy_with_a_client_certificate(pki: Pki) -> None:
    config = pki.config(tls_ca=str(pki.ca_file), tls_client_cert="required")
    with ServerThread(config) as thread:
        assert thread.server is not None
        conn = stomppy_tls(
            thread.server.tls_port,
            pki,
            cert_file=str(pki.client_cert),
            key_file=str(pki.client_key),
        )
        conn.connect("guest", "guest", wait=True)
        session = only_session(set(thread.server.connections))
        assert common_name(session.client_cert) == "alice"
        conn.disconnect()


def test_required_client_certificate_refuses_clients_without_one(pki: Pki) -> None:
    async def main() -> None:
        config = pki.config(tls_ca=str(pki.ca_file), tls_client_cert="required")
        async with start_server(config) as server:
            # TLS 1.3: the client's handshake ends before the server has checked it
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.tls_port, ssl=pki.client_context()
            )
            writer.write(CONNECT)
            try:
                answer = await asyncio.wait_for(reader.read(), 5)
            except (ssl.SSLError, ConnectionError):
                answer = b""
            writer.close()
            assert b"CONNECTED" not in answer
            assert not server.connections
            url = f"stomps://127.0.0.1:{server.tls_port}/"
            async with stompbox.connect(url, ssl=pki.client_context(cert=True)) as client:
                await client.send("/queue/cert", "with one", receipt=True)

    run(main())


# -- reloading the certificate -------------------------------------------------------------


def test_reload_serves_the_new_certificate_to_new_connections_only(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        config = pki.config()
        async with start_server(config) as server:
            url = f"stomps://127.0.0.1:{server.tls_port}/"
            old = stompbox.connect(url, ssl=pki.client_context())
            await old.open()
            try:
                async with old.subscribe("/queue/reload") as sub:
                    renewed = trustme.CA()
                    pki.renew(renewed)
                    assert server.tls is not None
                    assert reload(server.tls, config)
                    with pytest.raises(stompbox.ConnectFailed):  # the old CA no longer
                        await stompbox.connect(url, ssl=pki.client_context()).open()
                    async with stompbox.connect(url, ssl=pki.client_context(renewed)) as new:
                        await new.send("/queue/reload", "from a new connection", receipt=True)
                    assert (await sub.get(5)).text == "from a new connection"
                    await old.send("/queue/reload", "from the old one", receipt=True)
                    assert (await sub.get(5)).text == "from the old one"

                    pki.cert.write_text("not a certificate")
                    with caplog.at_level(logging.ERROR, logger="stompbox.server"):
                        assert not reload(server.tls, config)
                    assert f"tls_cert {pki.cert} holds no PEM certificate" in caplog.text
                    async with stompbox.connect(url, ssl=pki.client_context(renewed)) as new:
                        await new.send("/queue/reload", "still renewed", receipt=True)
                    assert (await sub.get(5)).text == "still renewed"
            finally:
                await old.close()

    run(main())


def read_until(process: subprocess.Popen[str], text: str) -> str:
    """Lines of ``process``'s output up to one holding ``text``."""
    assert process.stdout is not None
    seen = ""
    while text not in seen:
        line = process.stdout.readline()
        assert line, f"the server exited before logging {text!r}:\n{seen}"
        seen += line
    return seen


def test_sighup_reloads_a_running_server(pki: Pki, tmp_path: Path) -> None:
    toml = tmp_path / "stompbox.toml"
    toml.write_text(f'[server]\ntls_cert = "{pki.cert}"\ntls_key = "{pki.key}"\n')
    port, tls_port = free_port(), free_port()
    process = subprocess.Popen(
        stompbox_command(
            "serve",
            "--config",
            str(toml),
            "--port",
            str(port),
            "--ws-port",
            "0",
            "--tls-port",
            str(tls_port),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port)
        assert f"listening on 127.0.0.1:{tls_port} (STOMP over TLS)" in read_until(
            process, "(STOMP over TLS)"
        )
        old = stomppy_tls(tls_port, pki)
        listener = Listener()
        old.set_listener("", listener)
        old.connect("guest", "guest", wait=True)
        old.subscribe("/queue/hup", id="1")

        renewed = trustme.CA()
        pki.renew(renewed)
        renewed.cert_pem.write_to_path(str(tmp_path / "renewed.pem"))
        process.send_signal(signal.SIGHUP)
        read_until(process, "TLS certificate reloaded")

        new = stomppy_tls(tls_port, pki, tmp_path / "renewed.pem")
        new.connect("guest", "guest", wait=True)
        new.send("/queue/hup", "after the reload")
        assert listener.get().body == "after the reload"
        old.send("/queue/hup", "on the connection from before")
        assert listener.get().body == "on the connection from before"
        new.disconnect()
        old.disconnect()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(5)
        assert process.stdout is not None
        process.stdout.close()


def test_serve_no_tcp_leaves_only_tls(pki: Pki, tmp_path: Path) -> None:
    tls_port = free_port()
    tls = ("--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--tls-port", str(tls_port))
    with ServeProcess(tmp_path, *tls, "--no-tcp", "--http-port", "0") as serve:
        assert "plain STOMP over TCP is off" in serve.log()
        assert f"listening on 127.0.0.1:{tls_port} (STOMP over TLS)" in serve.log()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", serve.port), timeout=2).close()
        conn = stomppy_tls(tls_port, pki)
        listener = Listener()
        conn.set_listener("", listener)
        conn.connect("guest", "guest", wait=True)
        conn.subscribe("/queue/tls-only", id="1")
        conn.send("/queue/tls-only", "only through TLS")
        assert listener.get().body == "only through TLS"
        conn.disconnect()


def test_no_tcp_in_process(pki: Pki) -> None:
    async def main() -> None:
        async with start_server(pki.config(tcp=False)) as server:
            assert server.port == 0
            assert server.tls_port != 0

    run(main())


# -- configuration errors ------------------------------------------------------------------


def test_context_settings(pki: Pki) -> None:
    assert server_context(ServerConfig()) is None
    context = server_context(pki.config())
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE
    for mode, verify in (("optional", ssl.CERT_OPTIONAL), ("required", ssl.CERT_REQUIRED)):
        context = server_context(pki.config(tls_ca=str(pki.ca_file), tls_client_cert=mode))
        assert context is not None and context.verify_mode == verify


@pytest.mark.parametrize(
    ("setting", "content", "message"),
    [
        ("tls_key", None, "cannot read tls_key {path}: No such file or directory"),
        ("tls_cert", "junk", "tls_cert {path} holds no PEM certificate"),
        ("tls_key", "junk", "tls_key {path} holds no PEM private key"),
        ("tls_ca", "junk", "tls_ca {path} holds no PEM CA certificate"),
        ("tls_key", "other key", "tls_key {path} is not the private key of the certificate"),
        ("tls_key", "encrypted", "tls_key {path} is encrypted"),
    ],
)
def test_bad_files_are_named(
    pki: Pki, tmp_path: Path, setting: str, content: str | None, message: str
) -> None:
    path = tmp_path / "bad.pem"
    if content == "junk":
        path.write_text("hello")
    elif content == "other key":
        trustme.CA().issue_cert("x").private_key_pem.write_to_path(str(path))
    elif content == "encrypted":
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(pki.client.private_key_pem.bytes(), None)
        encrypted = serialization.BestAvailableEncryption(b"secret")
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encrypted
            )
        )
    config = pki.config(**{setting: str(path)})
    with pytest.raises(ConfigError) as info:
        server_context(config)
    assert message.format(path=path) in str(info.value)


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"tls_cert": "a.pem"}, "tls_cert needs tls_key"),
        ({"tls_key": "a.key"}, "tls_key needs tls_cert"),
        (
            {"tls_client_cert": "sometimes"},
            r"\[server\] tls_client_cert = 'sometimes': expected one of 'optional', 'required'",
        ),
        ({"tls_port": 70000}, r"tls_port = 70000: expected an integer 0-65535"),
        ({"tcp": "no"}, r"\[server\] tcp = 'no': expected true or false"),
        ({"tcp": False, "ws_port": 0}, "tcp = false, and neither TLS .* nor WebSocket"),
        (
            {"tcp": False, "ws_port": 0, "tls_cert": "a.pem", "tls_key": "a.key", "tls_port": 0},
            "no client could connect",
        ),
    ],
)
def test_config_checks(server: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerConfig.from_dict({"server": server})


def test_serve_names_a_missing_certificate(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    result = subprocess.run(
        stompbox_command(
            "serve",
            "--tls-cert",
            str(missing),
            "--tls-key",
            str(tmp_path / "x"),
            "--port",
            str(free_port()),
            "--ws-port",
            "0",
            "--tls-port",
            str(free_port()),
        ),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("stompbox serve: ")
    assert f"cannot read tls_cert {missing}" in result.stderr
