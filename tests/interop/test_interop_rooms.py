"""Rooms and broadcasts across three clients, Node and Python mixed in one room.

"Did not receive" is checked with a barrier (an echo round trip on the receiver's
own connection after the sender's ack): the server queues the room emit before it
acks the sender, so anything meant for the receiver arrives before the barrier's
ack. No timing is assumed.
"""

from __future__ import annotations

import pytest

# one event loop for the session: the Node puppet lives on it
pytestmark = pytest.mark.asyncio(loop_scope="session")

MIXES = {
    "node-py-node": ("node", "python", "node"),
    "py-node-py": ("python", "node", "python"),
}


@pytest.fixture(params=list(MIXES))
def mix(request):
    return MIXES[request.param]


async def three(peers, kinds):
    socks = []
    for i, kind in enumerate(kinds):
        s = await peers.client(kind, auth={"user": f"u{i}"})
        await s.wait_event("welcome")
        socks.append(s)
    return socks


async def test_say_to_room_including_self(peers, transport, mix, uniq):
    a, b, c = await three(peers, mix)
    room = uniq
    assert await a.call("join", room) is True
    assert await b.call("join", room) is True
    assert await a.call("say", {"room": room, "msg": "hi all", "exclude_self": False}) == "ok"
    expected = [{"from": a.sid, "msg": "hi all"}]
    assert await a.wait_event("said") == expected
    assert await b.wait_event("said") == expected
    await c.barrier()
    assert c.events("said") == []


async def test_say_to_room_excluding_self(peers, transport, mix, uniq):
    a, b, c = await three(peers, mix)
    room = uniq
    for s in (a, b, c):
        assert await s.call("join", room) is True
    msg = {"text": "no echo", "bin": b"\x00\x01"}
    assert await b.call("say", {"room": room, "msg": msg, "exclude_self": True}) == "ok"
    expected = [{"from": b.sid, "msg": msg}]
    assert await a.wait_event("said") == expected
    assert await c.wait_event("said") == expected
    await b.barrier()
    assert b.events("said") == []


async def test_leave_room(peers, transport, mix, uniq):
    a, b, c = await three(peers, mix)
    room = uniq
    for s in (a, b, c):
        assert await s.call("join", room) is True
    assert await c.call("leave", room) is True
    assert await a.call("say", {"room": room, "msg": 1, "exclude_self": True}) == "ok"
    assert await b.wait_event("said") == [{"from": a.sid, "msg": 1}]
    await c.barrier()
    assert c.events("said") == []
    # leaving a room one is not in is fine
    assert await c.call("leave", room) is True
    assert await c.call("rooms") == []


async def test_rooms_listing(peers, client_kind, transport, uniq):
    a = await peers.client(client_kind)
    assert await a.call("rooms") == []
    for room in (uniq + "-b", uniq + "-a", uniq + "-c"):
        assert await a.call("join", room) is True
    assert await a.call("join", uniq + "-a") is True  # twice: still once
    assert await a.call("rooms") == [uniq + "-a", uniq + "-b", uniq + "-c"]
    assert await a.call("leave", uniq + "-b") is True
    assert await a.call("rooms") == [uniq + "-a", uniq + "-c"]


async def test_broadcast_except_sender(peers, transport, mix, uniq):
    a, b, c = await three(peers, mix)
    msg = {"broadcast": uniq, "bin": b"\xff"}
    assert await a.call("broadcast", msg) == "ok"
    assert await b.wait_event("broadcasted", predicate=lambda args: args == [msg]) == [msg]
    assert await c.wait_event("broadcasted", predicate=lambda args: args == [msg]) == [msg]
    await a.barrier()
    assert [args for args in a.events("broadcasted") if args == [msg]] == []


async def test_broadcast_stays_in_namespace(peers, transport, uniq):
    """A broadcast on "/" does not reach a client of another namespace."""
    a = await peers.node("/")
    b = await peers.py("/")
    d = await peers.node("/dyn-bcast")
    e = await peers.py("/admin", auth={"token": "admin"})
    assert await a.call("broadcast", uniq) == "ok"
    assert await b.wait_event("broadcasted", predicate=lambda args: args == [uniq]) == [uniq]
    for s in (d, e):
        await s.barrier()
        assert s.events("broadcasted") == []
