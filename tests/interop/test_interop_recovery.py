"""Connection-state recovery with the official client (socket.io-client 4.8, `recovered`)
against both servers with recovery on: a blip during a room broadcast keeps the id, the
rooms and every packet, in order; and again on the same session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.common import is_event, is_type
from tests.peers.servers import KINDS, ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(params=KINDS)
def recovering(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    server = ServerProcess(request.param, recovery=True, start_timeout=60)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def said(sock) -> list:
    return [r["args"][0]["msg"] for r in sock.log.all(is_event("said"))]


async def test_a_blip_during_a_broadcast_is_recovered_with_every_packet(
    recovering: ServerProcess, node_puppets
) -> None:
    puppet = await node_puppets.get()
    url = recovering.ns_url("/")
    listener = await puppet.connect(url, transports=["websocket"], reconnection=True,
                                    reconnectionDelay=200, reconnectionDelayMax=500)
    sender = await puppet.connect(url, transports=["websocket"], reconnection=False)
    try:
        assert await listener.emit_ack("join", "news") == [True]
        first_sid = listener.sid
        expected: list[int] = []
        for _ in range(3):  # again and again on the same session
            await sender.emit_ack("say", {"room": "news", "msg": len(expected)})
            expected.append(len(expected))
            await listener.log.wait(is_event("said", lambda a: a[0]["msg"] == expected[-1]))
            await listener.close_engine()
            for _ in range(3):  # sent while the listener is away
                await sender.emit_ack("say", {"room": "news", "msg": len(expected)})
                expected.append(len(expected))
            connect = await listener.log.wait(is_type("connect"), timeout=30)
            assert connect["recovered"] is True, listener.log.describe()
            assert connect["sid"] == first_sid
            await sender.emit_ack("say", {"room": "news", "msg": len(expected)})
            expected.append(len(expected))
            await listener.log.wait(is_event("said", lambda a: a[0]["msg"] == expected[-1]),
                                    timeout=30)
            assert said(listener) == expected  # nothing lost, nothing twice, in order
    finally:
        await listener.close()
        await sender.close()
