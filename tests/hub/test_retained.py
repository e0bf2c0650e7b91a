"""Retained values: a room keeps the latest value per key for sockets that join later."""

from __future__ import annotations

import pytest

from jupyter_sio import Hub
from tests.helpers import connect


async def test_late_joiner_gets_the_current_value_of_each_key() -> None:
    hub = Hub()
    hub.emit("metric", {"cpu": 1}, to="dash", key="cpu", retain=True)
    hub.emit("metric", {"mem": 5}, to="dash", key="mem", retain=True)
    hub.emit("metric", {"cpu": 2}, to="dash", key="cpu", retain=True)
    _, channel, socket = await connect(hub)
    socket.join("dash")
    assert channel.events("metric") == [["metric", {"mem": 5}], ["metric", {"cpu": 2}]]


async def test_members_get_live_updates_and_rejoining_replays_only_the_latest() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    socket.join("dash")
    for value in range(3):
        hub.emit("metric", value, to="dash", key="k", retain=True)
    assert channel.events("metric") == [["metric", 0], ["metric", 1], ["metric", 2]]
    socket.leave("dash")
    channel.clear()
    socket.join("dash")
    assert channel.events("metric") == [["metric", 2]]


async def test_clear_retained_by_key_room_and_all() -> None:
    hub = Hub()
    hub.emit("m", 1, to="a", key="x", retain=True)
    hub.emit("m", 2, to="a", key="y", retain=True)
    hub.emit("m", 3, to="b", key="x", retain=True)
    hub.clear_retained("a", "x")
    _, channel, socket = await connect(hub)
    socket.join("a")
    assert channel.events("m") == [["m", 2]]
    hub.clear_retained("b")
    socket.join("b")
    assert channel.events("m") == [["m", 2]]
    hub.emit("m", 4, to="c", key="x", retain=True)
    hub.clear_retained()
    socket.join("c")
    assert channel.events("m") == [["m", 2]]


async def test_retention_is_bounded_per_room_oldest_key_first() -> None:
    hub = Hub(max_retained=2)
    for key in ("a", "b", "c"):
        hub.emit("m", key, to="r", key=key, retain=True)
    _, channel, socket = await connect(hub)
    socket.join("r")
    assert channel.events("m") == [["m", "b"], ["m", "c"]]


def test_retain_needs_a_key_and_a_room() -> None:
    hub = Hub()
    with pytest.raises(ValueError, match="retain=True needs a key"):
        hub.emit("m", 1, to="r", retain=True)
    with pytest.raises(ValueError, match="retain=True needs a key"):
        hub.emit("m", 1, key="k", retain=True)


async def test_a_key_retained_with_a_history_replays_its_recent_past_oldest_first() -> None:
    hub = Hub()
    for value in range(10):
        hub.emit("metric", value, to="dash", key="cpu", retain=4)
    hub.emit("metric", "ok", to="dash", key="state", retain=True)
    _, channel, socket = await connect(hub)
    socket.join("dash")  # a chart that opens (or reloads) late draws its last points
    assert channel.events("metric") == [["metric", v] for v in (6, 7, 8, 9, "ok")]
    # replayed history never conflates with the key's live value
    assert [p.key for p in channel.sent[:3]] == ["cpu\x000", "cpu\x001", "cpu\x002"]
    assert channel.sent[3].key == "cpu"


async def test_history_is_bounded_cleared_and_dropped_with_plain_retain() -> None:
    hub = Hub(max_history=5)
    with pytest.raises(ValueError, match="max_history"):
        hub.emit("m", 1, to="r", key="k", retain=6)
    for value in range(3):
        hub.emit("m", value, to="r", key="k", retain=3)
    hub.emit("m", "last", to="r", key="k", retain=True)  # back to the current value only
    _, channel, socket = await connect(hub)
    socket.join("r")
    assert channel.events("m") == [["m", "last"]]
    hub.emit("m", 1, to="r", key="k", retain=3)
    hub.emit("m", 2, to="r", key="k", retain=3)
    hub.clear_retained("r", "k")
    assert hub.default.adapter.history == {}
