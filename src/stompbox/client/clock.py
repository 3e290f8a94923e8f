"""The heart-beat clock of a client-side connection (the client's, a relay's)."""

from __future__ import annotations

import asyncio

from stompbox.protocol import ClientConnection, HeartbeatTimeout

__all__ = ["tick_when_due"]


async def tick_when_due(conn: ClientConnection) -> HeartbeatTimeout | None:
    """Sleep until ``conn`` next has a heart-beat to send or to expect, then tick it: its
    heart-beat is queued for the writer, or the broker has been silent too long."""
    loop = asyncio.get_running_loop()
    deadline = conn.next_deadline()
    await asyncio.sleep(1.0 if deadline is None else max(0.0, deadline - loop.time()))
    return conn.tick(loop.time())
