"""The in-memory room index and the adapter extension point (where a Redis adapter plugs in)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from jupyter_sio.hub import Adapter, BroadcastOptions, Hub, InMemoryAdapter, Namespace
from jupyter_sio.protocol.frames import Outgoing
from tests.helpers import RecordingChannel, connect, decode_outgoing

Opts = BroadcastOptions


def adapter() -> Adapter:
    return Hub().default.adapter


def consistent(a: Adapter) -> None:
    """Both indexes describe the same membership and no room is empty."""
    pairs_by_sid = {(sid, room) for sid, rooms in a.sids.items() for room in rooms}
    pairs_by_room = {(sid, room) for room, sids in a.rooms.items() for sid in sids}
    assert pairs_by_sid == pairs_by_room
    assert all(a.rooms.values()), "empty room kept"


def test_in_memory_is_the_default() -> None:
    assert InMemoryAdapter is Adapter
    assert type(Hub().default.adapter) is Adapter


def test_add_all() -> None:
    a = adapter()
    a.add_all("s1", ["s1", "r1", "r2"])
    a.add_all("s2", ["s2", "r1"])
    a.add_all("s1", ["r1"])  # again: no change
    consistent(a)
    assert a.rooms == {"s1": {"s1"}, "s2": {"s2"}, "r1": {"s1", "s2"}, "r2": {"s1"}}
    assert a.rooms_of("s1") == {"s1", "r1", "r2"}
    assert a.rooms_of("nobody") == set()


def test_add_all_takes_any_iterable() -> None:
    a = adapter()
    a.add_all("s1", (r for r in ["a", "b"]))
    assert a.rooms_of("s1") == {"a", "b"}
    a.add_all("s2", [])
    assert a.sids["s2"] == set()
    consistent(a)


@pytest.mark.parametrize(
    ("sid", "room", "rooms_left"),
    [
        ("s1", "r2", {"s1", "s2", "r1"}),  # last member leaves: the room goes away
        ("s1", "r1", {"s1", "s2", "r1", "r2"}),  # r1 keeps s2
        ("s1", "nope", {"s1", "s2", "r1", "r2"}),  # not a member: nothing happens
        ("ghost", "r1", {"s1", "s2", "r1", "r2"}),  # unknown sid: nothing happens
        ("s2", "s2", {"s1", "r1", "r2"}),  # a socket may even leave its own room
    ],
)
def test_delete(sid: str, room: str, rooms_left: set[str]) -> None:
    a = adapter()
    a.add_all("s1", ["s1", "r1", "r2"])
    a.add_all("s2", ["s2", "r1"])
    a.delete(sid, room)
    consistent(a)
    assert set(a.rooms) == rooms_left
    assert room not in a.rooms_of(sid)


def test_delete_all() -> None:
    a = adapter()
    a.add_all("s1", ["s1", "r1", "r2"])
    a.add_all("s2", ["s2", "r1"])
    a.delete_all("s1")
    consistent(a)
    assert a.rooms == {"s2": {"s2"}, "r1": {"s2"}}
    assert "s1" not in a.sids
    a.delete_all("s1")  # twice is fine
    a.delete_all("s2")
    assert a.rooms == {} and a.sids == {}


@pytest.fixture
def populated() -> Adapter:
    a = adapter()
    a.add_all("s1", ["s1", "a", "b"])
    a.add_all("s2", ["s2", "a"])
    a.add_all("s3", ["s3", "b", "muted"])
    a.add_all("s4", ["s4"])
    return a


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        (Opts(), ["s1", "s2", "s3", "s4"]),
        (Opts(rooms=frozenset({"a"})), ["s1", "s2"]),
        (Opts(rooms=frozenset({"a", "b"})), ["s1", "s2", "s3"]),  # union, each once
        (Opts(rooms=frozenset({"nope"})), []),
        (Opts(rooms=frozenset({"nope", "b"})), ["s1", "s3"]),
        (Opts(rooms=frozenset({"s4"})), ["s4"]),  # a sid is a room
        (Opts(exclude=frozenset({"a"})), ["s3", "s4"]),
        (Opts(exclude=frozenset({"s1"})), ["s2", "s3", "s4"]),
        (Opts(exclude=frozenset({"nope"})), ["s1", "s2", "s3", "s4"]),
        (Opts(rooms=frozenset({"a", "b"}), exclude=frozenset({"muted", "s2"})), ["s1"]),
        (Opts(rooms=frozenset({"b"}), exclude=frozenset({"b"})), []),
    ],
)
def test_select(populated: Adapter, opts: BroadcastOptions, expected: list[str]) -> None:
    selected = list(populated.select(opts))
    assert sorted(selected) == expected
    assert len(selected) == len(set(selected))


def test_select_returns_a_snapshot(populated: Adapter) -> None:
    # Callers (disconnect_sockets, leave) change membership while walking the result.
    selected = populated.select(Opts(rooms=frozenset({"a"})))
    for sid in selected:
        populated.delete(sid, "a")
    assert "a" not in populated.rooms


# -- with a hub --------------------------------------------------------------------------------
class RecordingAdapter(Adapter):
    """What a cross-node adapter does: see every broadcast, then deliver locally."""

    published: ClassVar[list[tuple[str, Outgoing, BroadcastOptions]]] = []

    def broadcast(self, packet: Outgoing, opts: BroadcastOptions) -> list[Any]:
        if not opts.local:
            self.published.append((self.namespace.name, packet, opts))
        return super().broadcast(packet, opts)


@pytest.fixture
def recording() -> list[tuple[str, Outgoing, BroadcastOptions]]:
    RecordingAdapter.published = []
    return RecordingAdapter.published


async def test_subclass_intercepts_broadcast(recording: list[Any]) -> None:
    hub = Hub(adapter=RecordingAdapter)
    assert isinstance(hub.default.adapter, RecordingAdapter)
    _, c1, s1 = await connect(hub)
    _, c2, s2 = await connect(hub)
    s1.join("r")
    hub.to("r").emit("news", 1)
    s2.to("r").emit("chat", 2)
    hub.default.local.emit("here-only")
    s1.emit("direct")  # a single-socket emit does not go through the adapter

    assert [(ns, decode_outgoing(p).data, o) for ns, p, o in recording] == [
        ("/", ["news", 1], Opts(rooms=frozenset({"r"}))),
        ("/", ["chat", 2], Opts(rooms=frozenset({"r"}), exclude=frozenset({s2.id}))),
    ]
    # The published packet is the one delivered locally: encoded once, shareable as is.
    assert recording[0][1] is c1.sent[0]
    assert c1.events() == [["news", 1], ["chat", 2], ["here-only"], ["direct"]]
    assert c2.events() == [["here-only"]]


async def test_subclass_can_replace_delivery() -> None:
    class Muted(Adapter):
        def broadcast(self, packet: Outgoing, opts: BroadcastOptions) -> list[Any]:
            return []

    hub = Hub(adapter=Muted)
    _, channel, _ = await connect(hub)
    hub.emit("x")
    assert channel.sent == []


async def test_each_namespace_gets_its_own_adapter() -> None:
    made: list[Namespace] = []

    def factory(namespace: Namespace) -> Adapter:
        made.append(namespace)
        return Adapter(namespace)

    hub = Hub(adapter=factory)
    hub.of("/admin")
    assert [ns.name for ns in made] == ["/", "/admin"]
    assert hub.default.adapter is not hub.of("/admin").adapter


async def test_broadcast_reports_full_channels() -> None:
    hub = Hub()
    _, c1, _ = await connect(hub)
    _, c2, _ = await connect(hub)
    c2.full = True
    packet = Outgoing('42["x"]')
    blocked = hub.default.adapter.broadcast(packet, Opts())
    assert len(blocked) == 1 and not blocked[0].done()
    assert c2.waiting[0][0] is packet  # the full connection holds the packet
    assert c1.sent == [packet]


async def test_membership_follows_socket_lifecycle() -> None:
    hub = Hub()
    client, _, socket = await connect(hub)
    a = hub.default.adapter
    socket.join("r", ["s", "t"])
    assert a.rooms_of(socket.id) == {socket.id, "r", "s", "t"}
    socket.leave("s", ["t"])
    assert a.rooms_of(socket.id) == {socket.id, "r"}
    hub.client_closed(client, "transport close")
    assert a.rooms == {} and a.sids == {}
    consistent(a)


async def test_local_sockets_skip_unknown_sids() -> None:
    # A cross-node adapter may index sids of other nodes; only local sockets come back.
    hub = Hub()
    _, _, socket = await connect(hub)
    a = hub.default.adapter
    a.add_all("remote-sid", ["remote-sid", "r"])
    socket.join("r")
    assert a.local_sockets(Opts(rooms=frozenset({"r"}))) == [socket]
    assert hub.default.adapter.broadcast(Outgoing('42["x"]'), Opts()) == []


async def test_fetch_sockets_and_close_are_coroutines() -> None:
    hub = Hub()
    _, _, socket = await connect(hub, channel=RecordingChannel(transport_name="polling"))
    assert await hub.default.adapter.fetch_sockets(Opts()) == [socket]
    assert socket.transport == "polling"
    await hub.default.adapter.init()
    await hub.close()
