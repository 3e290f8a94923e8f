"""TLS for the listeners: one server context from the config, reloadable in place.

Both STOMP over TLS (``tls_port``) and WSS (``ws_port``) use the one context that
:func:`server_context` builds. :func:`reload` loads the certificate files into that same
object again: each handshake copies the context's certificate when it begins, so new
connections get the new certificate and open ones keep theirs, and nothing has to stop
listening.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from .config import ConfigError, ServerConfig

__all__ = ["client_certificate", "reload", "server_context"]

log = logging.getLogger("stompbox.server")

_CERT_MARK = b"-----BEGIN CERTIFICATE-----"
_KEY_MARK = b"PRIVATE KEY-----"


def server_context(config: ServerConfig) -> ssl.SSLContext | None:
    """The context of ``config``'s ``tls_*`` settings, or None when ``tls_cert`` is unset.

    TLS 1.2 at least; with ``tls_ca``, client certificates are asked for (and required
    if ``tls_client_cert`` is ``required``). Raises :class:`ConfigError` naming the file
    that is missing, unreadable, not PEM, or whose key does not match the certificate.
    """
    if config.tls_cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(context, config)
    if config.tls_ca is not None:
        required = config.tls_client_cert == "required"
        context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
    return context


def reload(context: ssl.SSLContext, config: ServerConfig) -> bool:
    """Load ``config``'s certificate, key (and CA bundle) into ``context`` again, for
    handshakes from now on; True if it did. On any error the context keeps what it had
    and the error is logged: a bad file must not take the listeners down.

    The files are tried on a scratch context first, since a failed load into the live
    one could leave it with a new certificate and no key. CAs are added to those trusted
    already; OpenSSL cannot forget one short of a restart.
    """
    try:
        _load(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), config)
        _load(context, config)
    except ConfigError as exc:
        log.error("TLS reload failed, keeping the certificate in use: %s", exc)
        return False
    log.info("TLS certificate reloaded from %s", config.tls_cert)
    return True


def client_certificate(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The certificate the client of a TLS ``transport`` presented and that verified
    against ``tls_ca`` (:meth:`ssl.SSLObject.getpeercert`'s dict), else None."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    return ssl_object.getpeercert() or None  # {}: presented, not verified (no tls_ca)


def _load(context: ssl.SSLContext, config: ServerConfig) -> None:
    cert, key = config.tls_cert, config.tls_key
    assert cert is not None and key is not None  # ServerConfig.validate
    _check_pem("tls_cert", cert, _CERT_MARK, "certificate")
    _check_pem("tls_key", key, _KEY_MARK, "private key")
    try:
        context.load_cert_chain(cert, key, password=_no_password(key))
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(
                f"tls_key {key} is not the private key of the certificate in tls_cert {cert}"
            ) from None
        raise ConfigError(f"cannot load tls_cert {cert} with tls_key {key}: {exc}") from None
    except OSError as exc:  # replaced between the check and the load
        raise ConfigError(f"cannot read {exc.filename or cert}: {exc.strerror}") from None
    if config.tls_ca is not None:
        _check_pem("tls_ca", config.tls_ca, _CERT_MARK, "CA certificate")
        try:
            context.load_verify_locations(cafile=config.tls_ca)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"cannot load tls_ca {config.tls_ca}: {exc}") from None


def _check_pem(name: str, path: str, mark: bytes, what: str) -> None:
    """Name the file at fault, which OpenSSL's "PEM lib" errors do not."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {name} {path}: {exc.strerror}") from None
    if mark not in data:
        raise ConfigError(f"{name} {path} holds no PEM {what}")


def _no_password(key: str) -> Any:
    """A password callback that refuses: OpenSSL would otherwise prompt on the terminal."""

    def refuse() -> bytes:
        raise ConfigError(f"tls_key {key} is encrypted; give stompbox an unencrypted key")

    return refuse
