"""A client and a server connection wired back to back, for tests that drive bytes."""

from __future__ import annotations

from stompbox.protocol import ClientConnection, ClientEvent, ServerConnection, ServerEvent


class ConnectionPair:
    def __init__(self, client: ClientConnection, server: ServerConnection) -> None:
        self.client = client
        self.server = server

    def to_server(self, now: float = 0.0) -> list[ServerEvent]:
        self.server.receive_data(self.client.data_to_send(now), now)
        return list(self.server.events())

    def to_client(self, now: float = 0.0) -> list[ClientEvent]:
        self.client.receive_data(self.server.data_to_send(now), now)
        return list(self.client.events())

    @classmethod
    def connected(
        cls,
        client: ClientConnection | None = None,
        server: ServerConnection | None = None,
        now: float = 0.0,
    ) -> ConnectionPair:
        pair = cls(client or ClientConnection(), server or ServerConnection(now=now))
        pair.client.connect("localhost")
        [connect] = pair.to_server(now)
        assert connect.command == "CONNECT"  # type: ignore[union-attr]
        pair.server.accept(now, session="s-1")
        [connected] = pair.to_client(now)
        assert connected.command == "CONNECTED"  # type: ignore[union-attr]
        return pair
