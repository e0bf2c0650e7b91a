"""Connection, auth middleware and namespaces, with the Node and the Python clients.

Parametrized over server kind x transport setting x client kind (see conftest.py).
"""

from __future__ import annotations

import pytest

from tests.peers.common import PeerConnectError

# one event loop for the session: the Node puppet lives on it
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def check_transport(sock, transport: str) -> None:
    """The socket runs on the transport its setting implies (upgrade: websocket)."""
    if transport == "polling+upgrade":
        if sock.kind == "node":
            await sock.wait_transport("websocket")
        assert await sock.transport() == "websocket"
    else:
        assert await sock.transport() == transport


async def test_connect_with_auth_gets_welcome(peers, client_kind, transport):
    a = await peers.client(client_kind, auth={"user": "alice"})
    [welcome] = await a.wait_event("welcome")
    assert welcome == {"sid": a.sid, "user": "alice"}
    await check_transport(a, transport)


async def test_connect_packet_precedes_welcome(peers, client_kind, transport):
    """The server sends the namespace CONNECT packet before the events its connection
    handler emits (both official clients then report "connect" before "welcome";
    the Node client buffers early events and replays them before its "connect")."""
    a = await peers.client(client_kind, auth={"user": "order"})
    await a.wait_event("welcome")
    kinds = [
        r["type"] if r["type"] != "event" else r["event"]
        for r in a.log.reports
        if r["type"] == "connect" or (r["type"] == "event" and r["event"] == "welcome")
    ]
    assert kinds == ["connect", "welcome"], a.log.describe()


async def test_connect_without_auth_is_anon(peers, client_kind, transport):
    a = await peers.client(client_kind)
    [welcome] = await a.wait_event("welcome")
    assert welcome == {"sid": a.sid, "user": "anon"}
    b = await peers.client(client_kind, auth={"user": "bob", "token": "good"})
    [welcome_b] = await b.wait_event("welcome")
    assert welcome_b == {"sid": b.sid, "user": "bob"}
    assert a.sid != b.sid


async def test_connect_refused_by_middleware(peers, client_kind, transport):
    with pytest.raises(PeerConnectError) as refused:
        await peers.client(client_kind, auth={"token": "bad", "user": "mallory"})
    assert refused.value.message == "unauthorized"
    assert refused.value.data == {"reason": "bad token"}
    # the server is fine afterwards
    ok = await peers.client(client_kind, auth={"user": "after"})
    assert (await ok.wait_event("welcome"))[0]["user"] == "after"


async def test_admin_namespace_with_token(peers, client_kind, transport):
    a = await peers.client(client_kind, "/admin", auth={"token": "admin"})
    assert a.sid
    assert await a.emit_ack("echo", "hi", {"n": 1}) == ["hi", {"n": 1}]
    assert await a.emit_ack("echo", b"\x00\xffadmin") == [b"\x00\xffadmin"]
    await check_transport(a, transport)


@pytest.mark.parametrize("auth", [None, {"token": "nope"}], ids=["no-token", "wrong-token"])
async def test_admin_namespace_refused(peers, client_kind, transport, auth):
    opts = {} if auth is None else {"auth": auth}
    with pytest.raises(PeerConnectError) as refused:
        await peers.client(client_kind, "/admin", **opts)
    assert refused.value.message == "forbidden"


async def test_dynamic_namespace(peers, client_kind, transport):
    a = await peers.client(client_kind, "/dyn-abc")
    assert await a.wait_event("hello") == ["/dyn-abc"]
    assert await a.emit_ack("echo", 1, [2, b"\x03"]) == [1, [2, b"\x03"]]
    b = await peers.client(client_kind, "/dyn-x9y8")
    assert await b.wait_event("hello") == ["/dyn-x9y8"]
    # no welcome on a dynamic namespace: welcome belongs to "/"
    await b.barrier()
    assert b.events("welcome") == []


@pytest.mark.parametrize("namespace", ["/nope", "/dyn-ABC", "/dyn-"])
async def test_unknown_namespace_refused(peers, client_kind, transport, namespace):
    with pytest.raises(PeerConnectError) as refused:
        await peers.client(client_kind, namespace)
    assert refused.value.message == "Invalid namespace"
    # the server is fine afterwards
    ok = await peers.client(client_kind, "/dyn-ok")
    assert await ok.wait_event("hello") == ["/dyn-ok"]


async def test_node_multiplexed_namespaces(peers, transport):
    """Several namespaces over one Engine.IO connection (one Manager) in the Node client."""
    main = await peers.node("/", auth={"user": "mux"})
    [welcome] = await main.wait_event("welcome")
    assert welcome["user"] == "mux"
    admin = await peers.node("/admin", share=main, auth={"token": "admin"})
    dyn = await peers.node("/dyn-mux1", share=main)
    assert await dyn.wait_event("hello") == ["/dyn-mux1"]
    assert len({main.sid, admin.sid, dyn.sid}) == 3
    assert await admin.emit_ack("echo", "a", b"\x01") == ["a", b"\x01"]
    assert await dyn.emit_ack("echo", "d") == ["d"]
    assert await main.emit_ack("echo", "m") == ["m"]
    # a refused namespace on the shared connection leaves the others working
    with pytest.raises(PeerConnectError) as refused:
        await peers.node("/admin2", share=main)
    assert refused.value.message == "Invalid namespace"
    assert await main.emit_ack("echo", "still") == ["still"]
    # leaving one namespace keeps the connection and the other namespaces
    await admin.disconnect()
    assert await admin.wait_disconnect() == "io client disconnect"
    assert await main.emit_ack("echo", "after") == ["after"]
    assert await dyn.emit_ack("echo", "after") == ["after"]
    assert main.reports("disconnect") == [] and dyn.reports("disconnect") == []
    await check_transport(main, transport)
