"""Connection-state recovery with the official client (socket.io-client 4.8, `recovered`).

Against both servers with recovery on: a blip during a room broadcast keeps the id, the
rooms and every packet, in order, and again on the same session; back after the window is
a fresh session. jupyter_sio only: more missed than its log keeps is a fresh session (never a
partial replay), and a client that saw no event before the blip recovers (Node does not:
socket.io#5538)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.common import is_event, is_type
from tests.peers.servers import KINDS, ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(params=KINDS)
def recovering(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from started(ServerProcess(request.param, recovery=True, start_timeout=60))


def started(server: ServerProcess) -> Iterator[ServerProcess]:
    """What a server fixture yields: ``server``, running for the test."""
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


# -- where recovery must give a fresh session, and where jupyter_sio goes beyond Node ------


@pytest.fixture(params=KINDS)
def short_window(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from started(ServerProcess(request.param, recovery=1.5, start_timeout=60))


@pytest.fixture
def small_log() -> Iterator[ServerProcess]:
    yield from started(ServerProcess("jupyter_sio", recovery=True, recovery_max_packets=5,
                           start_timeout=60))


@pytest.fixture
def jsio_recovering() -> Iterator[ServerProcess]:
    yield from started(ServerProcess("jupyter_sio", recovery=True, start_timeout=60))


async def test_back_after_the_window_is_a_fresh_session(short_window: ServerProcess,
                                                        node_puppets) -> None:
    puppet = await node_puppets.get()
    # reconnects 3 s after the blip, after the 1.5 s window
    listener = await puppet.connect(short_window.ns_url("/"), transports=["websocket"],
                                    reconnection=True, reconnectionDelay=3000,
                                    reconnectionDelayMax=3000, randomizationFactor=0)
    try:
        assert await listener.emit_ack("join", "news") == [True]
        first_sid = listener.sid
        await listener.close_engine()
        connect = await listener.log.wait(is_type("connect"), timeout=30)
        assert connect["recovered"] is False, listener.log.describe()
        assert connect["sid"] != first_sid
        assert "news" not in (await listener.emit_ack("rooms"))[0]
    finally:
        await listener.close()


async def test_more_missed_than_the_log_keeps_is_a_fresh_session_never_a_partial_replay(
    small_log: ServerProcess, node_puppets
) -> None:
    puppet = await node_puppets.get()
    url = small_log.ns_url("/")
    listener = await puppet.connect(url, transports=["websocket"], reconnection=True,
                                    reconnectionDelay=1000, reconnectionDelayMax=1000,
                                    randomizationFactor=0)
    sender = await puppet.connect(url, transports=["websocket"], reconnection=False)
    try:
        assert await listener.emit_ack("join", "news") == [True]
        first_sid = listener.sid
        await listener.close_engine()
        for n in range(10):  # the log keeps 5 packets
            await sender.emit_ack("say", {"room": "news", "msg": n})
        connect = await listener.log.wait(is_type("connect"), timeout=30)
        assert connect["recovered"] is False, listener.log.describe()
        assert connect["sid"] != first_sid
        assert said(listener) == []  # nothing of what was missed, not a part of it
    finally:
        await listener.close()
        await sender.close()


async def test_a_client_that_saw_no_broadcast_yet_recovers(jsio_recovering: ServerProcess,
                                                           node_puppets) -> None:
    """socket.io#5538: Node recovers no session whose client holds no offset yet. A quiet
    client gets no welcome event, so it has seen no event at all before the blip."""
    puppet = await node_puppets.get()
    url = jsio_recovering.ns_url("/")
    listener = await puppet.connect(url, transports=["websocket"], reconnection=True,
                                    reconnectionDelay=200, reconnectionDelayMax=500,
                                    auth={"quiet": True})
    sender = await puppet.connect(url, transports=["websocket"], reconnection=False)
    try:
        assert await listener.emit_ack("join", "news") == [True]
        assert listener.log.all(is_type("event")) == []
        first_sid = listener.sid
        await listener.close_engine()
        await sender.emit_ack("say", {"room": "news", "msg": 0})
        connect = await listener.log.wait(is_type("connect"), timeout=30)
        assert connect["recovered"] is True, listener.log.describe()
        assert connect["sid"] == first_sid
        await listener.log.wait(is_event("said"), timeout=30)
        assert said(listener) == [0]
    finally:
        await listener.close()
        await sender.close()
