"""SockJS (protocol 0.3.3) as an ASGI app, for any message protocol: the WebSocket
emulation sockjs-client 1.x and Spring's ``SockJsClient`` speak, with its HTTP fallbacks
(xhr-streaming, xhr-polling, eventsource, htmlfile, jsonp).

An application implements :class:`SockJSHandler` and mounts a :class:`SockJSEndpoint`;
each client is a :class:`SockJSSession` it can ``send`` to and ``close``.
"""

from .endpoint import SockJSEndpoint
from .session import SockJSHandler, SockJSSession

__all__ = ["SockJSEndpoint", "SockJSHandler", "SockJSSession"]
