"""Disconnections (client side, server side), heartbeat, payload limit, reconnection."""

from __future__ import annotations

import asyncio

import pytest

from tests.peers.common import PeerConnectError

# one event loop for the session: the Node puppet lives on it
pytestmark = pytest.mark.asyncio(loop_scope="session")

# python-socketio's disconnect reasons (socketio.AsyncClient.reason)
PY_SERVER_DISCONNECT = "server disconnect"
PY_CLIENT_DISCONNECT = "client disconnect"


async def test_client_disconnect_is_seen_by_server(peers, transport, uniq):
    """A client leaves; the server drops it from its rooms and the others go on."""
    a = await peers.node("/", auth={"user": "leaving-node"})
    b = await peers.py("/", auth={"user": "leaving-py"})
    c = await peers.node("/", auth={"user": "stays"})
    for s in (a, b, c):
        await s.wait_event("welcome")
        assert await s.call("join", uniq) is True
    old_a, old_b = a.sid, b.sid

    await a.disconnect()
    assert await a.wait_disconnect() == "io client disconnect"
    await b.disconnect()
    assert await b.wait_disconnect() == PY_CLIENT_DISCONNECT

    # the server still serves the room, to the one left
    assert await c.call("say", {"room": uniq, "msg": "anyone?", "exclude_self": False}) == "ok"
    assert await c.wait_event("said") == [{"from": c.sid, "msg": "anyone?"}]

    # the Node client comes back: a new socket, in no room, and the room emit
    # sent while it was away was not kept for it
    await a.connect_again()
    await a.wait_connect()
    [welcome] = await a.wait_event("welcome")
    assert welcome == {"sid": a.sid, "user": "leaving-node"}
    assert a.sid != old_a
    assert await a.call("rooms") == []
    assert a.events("said") == []
    assert await c.call("say", {"room": uniq, "msg": "again", "exclude_self": True}) == "ok"
    await a.barrier()
    assert a.events("said") == []
    assert old_b not in (a.sid, c.sid)


async def test_server_disconnect_node(peers, transport):
    a = await peers.node("/", reconnection=True)
    await a.wait_event("welcome")
    await a.emit("disconnect_me")
    assert await a.wait_disconnect() == "io server disconnect"
    state = await a.state()
    assert state["connected"] is False
    # the client does not try again after a server-side disconnect
    assert state["active"] is False
    assert a.reports("reconnect_attempt") == []


async def test_server_disconnect_python(peers, transport):
    a = await peers.py("/", reconnection=True)
    await a.wait_event("welcome")
    await a.emit("disconnect_me")
    assert await a.wait_disconnect() == PY_SERVER_DISCONNECT
    # the handler ran; give the client a chance to (wrongly) schedule a reconnection
    for _ in range(5):
        await asyncio.sleep(0)
    assert a.sio.connected is False
    assert not a.reconnecting
    assert len(a.reports("connect")) == 1


async def test_server_disconnect_leaves_other_namespaces(peers, transport):
    """disconnect_me is a namespace disconnect: "/dyn-*" on the same connection stays."""
    main = await peers.node("/")
    await main.wait_event("welcome")
    dyn = await peers.node("/dyn-keep", share=main)
    assert await dyn.wait_event("hello") == ["/dyn-keep"]
    await main.emit("disconnect_me")
    assert await main.wait_disconnect() == "io server disconnect"
    assert await dyn.emit_ack("echo", "alive") == ["alive"]
    assert dyn.reports("disconnect") == []


@pytest.mark.parametrize("transport", ["websocket"])
async def test_heartbeat_keeps_idle_clients(peers, transport):
    """Idle clients on every transport survive several ping intervals (1 s, timeout 2 s)."""
    socks = []
    for t in ("websocket", "polling", "polling+upgrade"):
        socks.append(await peers.node("/", transport=t))
        socks.append(await peers.py("/", transport=t))
    await asyncio.sleep(3.5)  # > pingInterval + pingTimeout: a missed pong would show
    for s in socks:
        assert s.reports("disconnect") == [], s.log.describe()
        assert await s.emit_ack("echo", "still here") == ["still here"]


async def test_oversized_message_closes_connection(peers, client_kind, transport):
    """A message over the 1 MB max payload: the server drops the connection."""
    victim = await peers.client(client_kind)
    await victim.wait_event("welcome")
    await victim.emit("echo", b"\x00" * 1_500_000)
    await victim.wait_disconnect(timeout=15)
    # the server is fine afterwards
    ok = await peers.client(client_kind)
    assert await ok.emit_ack("echo", "ok") == ["ok"]


async def test_reconnect_after_server_restart(own_server, peers, transport):
    """The server process dies (SIGKILL: connections drop, no goodbye) and comes back
    on the same port: both clients reconnect by themselves and get a new welcome.

    (A graceful stop may send an Engine.IO CLOSE packet, after which python-socketio
    does not reconnect, by design: that is why the server is killed here.)
    """
    node = await peers.node("/", reconnection=True, auth={"user": "phoenix-node"})
    py = await peers.py("/", reconnection=True, auth={"user": "phoenix-py"})
    [w_node] = await node.wait_event("welcome")
    [w_py] = await py.wait_event("welcome")

    await own_server.astop(kill=True)
    node_reason = await node.wait_disconnect(timeout=15)
    assert node_reason in ("transport close", "transport error", "ping timeout"), node_reason
    await py.wait_disconnect(timeout=15)

    await own_server.arestart()
    await node.wait_reconnect(timeout=20)
    await py.wait_reconnect(timeout=20)
    [w_node2] = await node.wait_event("welcome", timeout=10)
    [w_py2] = await py.wait_event("welcome", timeout=10)
    assert w_node2 == {"sid": node.sid, "user": "phoenix-node"} and w_node2 != w_node
    assert w_py2 == {"sid": py.sid, "user": "phoenix-py"} and w_py2 != w_py
    assert node.reports("reconnect")
    assert await node.emit_ack("echo", "back", b"\x01") == ["back", b"\x01"]
    assert await py.emit_ack("echo", "back", b"\x01") == ["back", b"\x01"]
    if transport == "polling+upgrade":
        await node.wait_transport("websocket")


async def test_node_reconnects_after_graceful_restart(own_server, peers, transport):
    """The server stops gracefully (SIGTERM) and comes back: the Node client reconnects."""
    node = await peers.node("/", reconnection=True, auth={"user": "graceful"})
    [w1] = await node.wait_event("welcome")
    await own_server.astop()
    reason = await node.wait_disconnect(timeout=15)
    assert reason in ("transport close", "transport error", "ping timeout"), reason
    await own_server.arestart()
    await node.wait_reconnect(timeout=20)
    [w2] = await node.wait_event("welcome", timeout=10)
    assert w2 == {"sid": node.sid, "user": "graceful"} and w2 != w1
    assert await node.emit_ack("echo", 2) == [2]


async def test_refused_client_does_not_reconnect(peers, client_kind, transport):
    """A middleware refusal is final, even with reconnection on."""
    with pytest.raises(PeerConnectError):
        await peers.client(client_kind, auth={"token": "bad"}, reconnection=True)
    ok = await peers.client(client_kind)
    await ok.barrier()
