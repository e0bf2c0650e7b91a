"""Connection-state recovery at the hub level (the official client against a running hub
is in tests/interop/test_interop_recovery.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from jupyter_sio import Hub, Socket
from jupyter_sio.hub.recovery import Entry, Mark, Remote, Saved, _gap, holder_key
from jupyter_sio.protocol.frames import Outgoing
from jupyter_sio.protocol.sio_codec import SocketPacket, SocketPacketType
from tests.helpers import RecordingChannel, feed, open_client, settle


async def join(
    hub: Hub, auth: dict[str, Any] | None = None
) -> tuple[Any, RecordingChannel, Socket, dict[str, Any]]:
    client, channel = open_client(hub)
    feed(client, SocketPacket(SocketPacketType.CONNECT, "/", auth))
    await settle()
    reply = channel.packets[0]
    assert reply.type is SocketPacketType.CONNECT
    return client, channel, client.sockets["/"], reply.data


def offset_of(channel: RecordingChannel) -> str:
    return str(channel.events()[-1][-1])


def blip(hub: Hub, client: Any) -> None:
    hub.client_closed(client, "transport close")


async def test_a_blip_keeps_id_rooms_data_and_replays_what_was_missed_in_order() -> None:
    hub = Hub(recovery_window=30)
    client, channel, socket, hello = await join(hub)
    assert hello["sid"] == socket.id and hello["pid"]
    socket.join("room")
    socket.data["name"] = "ann"
    hub.to("room").emit("tick", 1)
    assert channel.events()[-1][:2] == ["tick", 1]  # the offset rides as the last argument
    seen = offset_of(channel)
    blip(hub, client)
    hub.to("room").emit("tick", 2)
    hub.to("elsewhere").emit("tick", 99)
    hub.emit("all", 3)
    _, again, restored, reply = await join(hub, {"pid": hello["pid"], "offset": seen})
    assert reply == {"sid": socket.id, "pid": hello["pid"]}
    assert restored.recovered and restored.id == socket.id
    assert restored.rooms == {socket.id, "room"} and restored.data == {"name": "ann"}
    hub.to("room").emit("tick", 4)
    assert [e[:2] for e in again.events()] == [["tick", 2], ["all", 3], ["tick", 4]]


async def test_recovery_without_any_event_seen_and_again_and_again() -> None:
    hub = Hub(recovery_window=30)
    client, channel, socket, hello = await join(hub)
    socket.join("room")
    for n in range(3):
        blip(hub, client)
        hub.to("room").emit("missed", n)
        offset = offset_of(channel) if channel.events() else None
        auth = (
            {"pid": hello["pid"]}
            if offset is None or n == 0
            else {"pid": hello["pid"], "offset": offset}
        )
        client, channel, again, _ = await join(hub, auth)
        assert again.recovered and again.id == socket.id
        assert [e[:2] for e in channel.events("missed")] == [["missed", n]]


async def test_the_client_back_before_its_old_transport_died_takes_the_session_over() -> None:
    hub = Hub(recovery_window=30)
    old_client, channel, socket, hello = await join(hub)
    socket.join("room")
    hub.to("room").emit("tick", 1)
    seen = offset_of(channel)
    hub.to("room").emit("tick", 2)  # sent to the dead transport, never read
    _, again, restored, _ = await join(hub, {"pid": hello["pid"], "offset": seen})
    assert restored.recovered and restored.id == socket.id and restored.rooms >= {"room"}
    assert [e[:2] for e in again.events("tick")] == [["tick", 2]]
    assert old_client.channel.closed == ["forced close"]  # the old connection is closed...
    hub.client_closed(old_client, "forced close")  # ...as its transport then reports
    assert not socket.connected
    assert hub.default.sockets[socket.id] is restored  # the new socket keeps the id
    assert restored.rooms >= {"room"}


async def test_keyed_values_come_back_as_their_newest_value_only() -> None:
    hub = Hub(recovery_window=30)
    client, channel, socket, hello = await join(hub)
    socket.join("dash")
    hub.to("dash").emit("hello", 0)
    seen = offset_of(channel)
    blip(hub, client)
    for value in range(5):
        hub.to("dash").emit("metric", value, key="cpu")
    _, again, _, _ = await join(hub, {"pid": hello["pid"], "offset": seen})
    assert [e[:2] for e in again.events()] == [["metric", 4]]


@pytest.mark.parametrize("why", ["window", "bounds", "server close", "unknown"])
async def test_otherwise_a_fresh_session_never_a_partial_replay(
    why: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "jupyter_sio.hub")
    hub = Hub(recovery_window=0.05 if why == "window" else 30, recovery_max_packets=3)
    client, channel, socket, hello = await join(hub)
    socket.join("room")
    hub.to("room").emit("tick", 0)
    seen = offset_of(channel)
    if why == "server close":
        hub.client_closed(client, "server namespace disconnect")
    else:
        blip(hub, client)
    if why == "window":
        await asyncio.sleep(0.2)
    if why == "bounds":
        for n in range(5):
            hub.to("room").emit("tick", n)
    pid = "nope" if why == "unknown" else hello["pid"]
    _, again, fresh, reply = await join(hub, {"pid": pid, "offset": seen})
    assert not fresh.recovered and fresh.id != socket.id and reply["pid"] != hello["pid"]
    assert again.events() == [] and fresh.rooms == {fresh.id}
    if why in ("bounds", "window"):
        assert any("fresh session" in r.getMessage() for r in caplog.records)


async def test_off_by_default_no_pid_and_no_offsets() -> None:
    hub = Hub()
    _, channel, socket, hello = await join(hub)
    assert "pid" not in hello
    socket.emit("x", 1)
    assert channel.events() == [["x", 1]]


async def test_acks_and_volatile_packets_are_not_logged() -> None:
    hub = Hub(recovery_window=30)
    _, channel, socket, _ = await join(hub)
    hub.default.volatile.emit("v", 1)
    assert channel.events()[-1] == ["v", 1]  # no offset: a volatile packet is not replayed
    future = socket.call("q", 1)
    assert channel.packets[-1].id is not None and channel.packets[-1].data == ["q", 1]
    future.cancel()
    recovery = hub.default.recovery
    assert recovery is not None and len(recovery.log) == 0
    await settle()


# -- across nodes: the order in which the holding node delivered (see hub.recovery) ----------
def entry(offset: str, *, stream: tuple[int, int], seen: tuple[int, int] = (0, 0)) -> Entry:
    return Entry(offset, frozenset(), frozenset(), Outgoing(f'42["e","{offset}"]'), seen, stream)


def test_a_replay_follows_the_holders_order_not_the_streams() -> None:
    hub = Hub(recovery_window=30)
    recovery = hub.default.recovery
    assert recovery is not None
    # Node H delivered r1 (of node C), then its own a, then r2: r2 was written to the stream
    # while a was on its way there, so the stream has r1, r2, a.
    r1 = entry("C:0", stream=(5, 0))
    r2 = entry("C:1", stream=(6, 0))
    a = entry("H:0", stream=(7, 0), seen=(5, 0))
    saved = Saved("sid", set(), {}, Mark(-1, (0, 0), 0), "H")
    for last, missed in ((r1, [a, r2]), (a, [r2]), (r2, [])):
        key = holder_key(last, "H")
        assert key is not None
        remote = Remote(saved, key, [r1, r2, a], [])
        assert [e.offset for e in recovery._remote_entries(remote)] == [
            e.offset for e in sorted(missed, key=lambda e: e.id or (0, 0))
        ]


def test_a_number_missing_from_a_nodes_entries_means_a_write_was_lost() -> None:
    mark = Mark(-1, (0, 0), 3)
    ok = [entry("C:1", stream=(1, 0)), entry("C:2", stream=(2, 0)), entry("H:3", stream=(3, 0))]
    assert _gap(ok, "H", mark) is None
    assert _gap([*ok, entry("C:4", stream=(4, 0))], "H", mark) == "C"
    assert _gap([entry("H:4", stream=(4, 0))], "H", mark) == "H"  # H:3 never arrived
