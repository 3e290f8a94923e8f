"""Who a CONNECT is from, in an application: what an inbound interceptor set, what the
app's ``authenticate`` callable says, or what the server verified."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from stompbox.protocol import Frame
from stompbox.security.authn import Credentials, principal_of
from stompbox.server.session import AccessDenied, ServerSession

from .api import FrameRejected
from .hooks import Hooks

__all__ = ["Identify"]


class Identify:
    """The application's part of checking a CONNECT (:meth:`StompApp.authenticate`)."""

    def __init__(
        self,
        hooks: Hooks,
        authenticator: Callable[[Credentials], Any] | None,
        require_auth: bool,
    ) -> None:
        self.hooks = hooks
        self.authenticator = authenticator
        self.require_auth = require_auth

    async def __call__(
        self, session: ServerSession, frame: Frame, credentials: Credentials, verified: Any
    ) -> Any:
        """What an inbound interceptor set (Spring's token-on-CONNECT), else what the
        ``authenticate`` callable returns (it has the last word: its None makes even a
        verified client anonymous), else what the server ``verified`` (users file, token,
        certificate, the ASGI scope's user). Never CONNECT's login unchecked, unless
        ``trust_login`` (development) made the server take it."""
        try:
            intercepted = self.hooks.intercept(frame, session)
        except FrameRejected as exc:  # a refused token: the interceptor's words
            raise AccessDenied(str(exc)) from exc
        if intercepted is None:
            raise AccessDenied("CONNECT refused")
        principal = verified
        if session.principal is not None:
            principal = session.principal
        elif self.authenticator is not None:
            principal = self.authenticator(credentials)
            if inspect.isawaitable(principal):
                principal = await principal
        if principal is None and self.require_auth:
            raise AccessDenied("authentication required")
        session.principal = principal
        session.identity = principal_of(principal, "app")  # the connect event's user
        self.hooks.emit("connect", session, intercepted)
        return principal
