"""The Admin UI's server side (``hub.instrument``), with the hub's recording test channel;
the official UI client code talks to a running hub in tests/interop/test_admin_ui.py."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_sio import Hub, Socket
from jupyter_sio.hub.sio_connection import Handshake, Identity
from jupyter_sio.protocol.sio_codec import SocketPacket, SocketPacketType
from tests.helpers import RecordingChannel, connect, feed, settle

ADMIN = {"username": "admin", "password": "secret"}


async def admin_socket(hub: Hub) -> tuple[RecordingChannel, Socket]:
    """The UI's socket: CONNECT, then what the connect handler sends (config, sockets)."""
    client = hub.connect_client(channel := RecordingChannel(), Handshake())
    feed(client, SocketPacket(SocketPacketType.CONNECT, "/admin", ADMIN))
    await settle()
    assert channel.packets[0].type is SocketPacketType.CONNECT
    return channel, client.sockets["/admin"]


async def admin(hub: Hub) -> RecordingChannel:
    return (await admin_socket(hub))[0]


def named(channel: RecordingChannel, event: str) -> list[list[Any]]:
    return [e[1:] for e in channel.events(event)]


async def test_the_ui_gets_the_config_and_every_socket_with_no_credentials() -> None:
    hub = Hub()
    hub.instrument(auth=ADMIN)
    channel = RecordingChannel()
    headers = {"Cookie": "session=abc", "Authorization": "token t", "User-Agent": "pytest"}
    client = hub.connect_client(channel, Handshake(
        headers=headers, query={"token": "t", "EIO": "4"}, url="/socket.io/?token=t&EIO=4"))
    feed(client, SocketPacket(SocketPacketType.CONNECT, "/", {}))
    await settle()
    user = client.sockets["/"]
    user.join("lobby")
    ui = await admin(hub)
    [config] = named(ui, "config")
    assert "ALL_EVENTS" in config[0]["supportedFeatures"]
    assert "EMIT" in config[0]["supportedFeatures"]
    [[sockets]] = named(ui, "all_sockets")
    [listed] = sockets
    assert listed["id"] == user.id and listed["nsp"] == "/"
    assert set(listed["rooms"]) == {user.id, "lobby"}
    handshake = listed["handshake"]
    assert handshake["headers"] == {"user-agent": "pytest"}  # no cookie, no authorization
    assert handshake["query"] == {"EIO": "4"} and "token" not in handshake["url"]


async def test_wrong_credentials_are_refused() -> None:
    hub = Hub()
    hub.instrument(auth=ADMIN)
    client = hub.connect_client(rc := RecordingChannel(), Handshake())
    feed(client, SocketPacket(SocketPacketType.CONNECT, "/admin", {"username": "admin"}))
    await settle()
    assert rc.packets[-1].type is SocketPacketType.CONNECT_ERROR
    assert "/admin" not in client.sockets
    with pytest.raises(ValueError, match="auth"):
        Hub().instrument(auth=None)  # type: ignore[arg-type]


async def test_live_reports_of_sockets_rooms_and_events() -> None:
    hub = Hub()
    hub.instrument(auth=ADMIN)
    hub.on("ping", lambda socket, n: n)
    ui = await admin(hub)
    client, _, user = await connect(hub)
    assert named(ui, "socket_connected")[0][0]["id"] == user.id
    user.join("room")
    assert ["/", "room", user.id] == named(ui, "room_joined")[-1][:3]
    feed(client, SocketPacket(SocketPacketType.EVENT, "/", ["ping", 1], 7))
    assert named(ui, "event_received")[-1][:3] == ["/", user.id, ["ping", 1]]
    hub.to("room").emit("news", {"n": 2})
    assert named(ui, "event_sent")[-1][:3] == ["/", user.id, ["news", {"n": 2}]]
    user.leave("room")
    assert named(ui, "room_left")[-1][:3] == ["/", "room", user.id]
    hub.client_closed(client, "transport close")
    assert named(ui, "socket_disconnected")[-1][:3] == ["/", user.id, "transport close"]
    stats = hub.monitor.server_stats()  # type: ignore[union-attr]
    kinds = {e["type"] for e in stats["aggregatedEvents"]}
    assert {"rawConnection", "rawDisconnection", "packetsIn", "packetsOut"} <= kinds
    assert {"name": "/", "socketsCount": 0} in stats["namespaces"]


async def test_the_ui_emits_moves_and_disconnects_sockets() -> None:
    hub = Hub()
    hub.instrument(auth=ADMIN)
    _, ui = await admin_socket(hub)
    _, channel, user = await connect(hub)
    user.join("a")
    ui._on_event(["join", "/", "b", "a"], None)
    assert user.rooms == {user.id, "a", "b"}
    ui._on_event(["emit", "/", "b", "hello", 1, 2], None)
    assert channel.events("hello") == [["hello", 1, 2]]
    ui._on_event(["leave", "/", "a"], None)
    assert user.rooms == {user.id, "b"}
    ui._on_event(["_disconnect", "/", False, user.id], None)
    assert not user.connected


async def test_read_only_and_powers_only() -> None:
    hub = Hub()
    hub.instrument(auth=False, read_only=True, admit=lambda who: who.powers)
    client = hub.connect_client(rc := RecordingChannel(), Handshake(user=Identity(powers=False)))
    feed(client, SocketPacket(SocketPacketType.CONNECT, "/admin", {}))
    await settle()
    assert rc.packets[-1].type is SocketPacketType.CONNECT_ERROR  # no kernel powers
    powered = hub.connect_client(pc := RecordingChannel(), Handshake(user=Identity(powers=True)))
    feed(powered, SocketPacket(SocketPacketType.CONNECT, "/admin", {}))
    await settle()
    assert "EMIT" not in pc.events("config")[0][1]["supportedFeatures"]
    _, _, user = await connect(hub)
    powered.sockets["/admin"]._on_event(["_disconnect", "/", False, user.id], None)
    assert user.connected  # read-only: the UI's actions are not served
