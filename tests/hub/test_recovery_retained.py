"""Connection-state recovery and retained values (issue 10): a recovered socket is still in
its rooms and gets what it missed (keyed values as their newest), so the hub does not send
the rooms' retained values (and their history) again: that would be the backlog recovery
avoids. A fresh session still gets them."""

from __future__ import annotations

from jupyter_sio import Hub
from tests.hub.test_recovery import blip, join, offset_of


async def test_a_recovered_socket_gets_the_newest_keyed_value_not_the_retained_backlog() -> None:
    hub = Hub(recovery_window=30)
    client, channel, socket, hello = await join(hub)
    socket.join("dash")
    for value in range(3):  # a retained history of 3 values
        hub.to("dash").emit("metric", value, key="cpu", retain=3)
    seen = offset_of(channel)
    blip(hub, client)
    for value in range(3, 6):
        hub.to("dash").emit("metric", value, key="cpu", retain=3)
    _, again, restored, _ = await join(hub, {"pid": hello["pid"], "offset": seen})
    assert restored.recovered and restored.rooms == {socket.id, "dash"}
    assert [e[:2] for e in again.events()] == [["metric", 5]]


async def test_a_fresh_session_gets_the_retained_values_when_it_joins() -> None:
    hub = Hub(recovery_window=30)
    hub.to("dash").emit("metric", 1, key="cpu", retain=True)
    _, channel, socket, _ = await join(hub)
    socket.join("dash")
    assert [e[:2] for e in channel.events()] == [["metric", 1]]
