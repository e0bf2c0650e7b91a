"""The hub's side of a kernel link, with a recording writer: no sockets, real hub."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_sio import Hub
from jupyter_sio.hub.kernel_peer import KernelPeer
from jupyter_sio.hub.sio_connection import Handshake, Identity
from jupyter_sio.protocol.link_codec import LinkKind, encode_frame, join_frames
from jupyter_sio.protocol.sio_codec import SocketPacket, SocketPacketType

from ..helpers import connect, feed, settle


class RecordingWriter:
    """What a kernel would read from its link: frames as (kind, header, payload)."""

    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.closed: list[str] = []
        self.pending = 0

    def write_text(self, text: str) -> None:
        self.messages.append(text)

    def write_binary(self, data: bytes) -> None:
        self.messages.append(data)

    def pending_bytes(self) -> int:
        return self.pending

    def close(self, reason: str) -> None:
        self.closed.append(reason)

    def frames(self, kind: str | None = None) -> list[tuple[str, dict[str, Any], str | None]]:
        out = []
        for message in self.messages:
            if isinstance(message, bytes):
                continue
            for line in message.split("\n"):
                name, _, rest = line.partition("\t")
                header, sep, payload = rest.partition("\t")
                if kind is None or name == kind:
                    out.append((name, json.loads(header), payload if sep else None))
        return out


async def kernel(hub: Hub, kernel_id: str, handlers: list[list[Any]] | None = None
                 ) -> tuple[KernelPeer, RecordingWriter]:
    writer = RecordingWriter()
    identity = Identity(name="kernel", kernel_id=kernel_id, powers=True)
    peer = hub.open_kernel_link(writer, Handshake(user=identity))
    peer.on_message(encode_frame(LinkKind.HELLO, {"v": 1, "handlers": handlers or []}))
    await settle()
    assert writer.frames("welcome")
    return peer, writer


def send(peer: KernelPeer, *lines: str) -> Any:
    return peer.on_message(join_frames(list(lines)))


async def test_a_batch_of_emits_reaches_the_room_in_order() -> None:
    hub = Hub()
    hub.enable_browser_events()
    _, channel, socket = await connect(hub)
    socket.join("dash")
    peer, _ = await kernel(hub, "k1")
    header = {"ns": "/", "to": ["dash"]}
    send(peer, *[encode_frame(LinkKind.EMIT, header, f'2["tick",{i}]') for i in range(50)])
    assert [e[1] for e in channel.events("tick")] == list(range(50))
    # the packet reached the browser exactly as the kernel encoded it
    assert channel.sent[0].text == '42["tick",0]'


async def test_commands_do_not_wait_behind_a_pending_call() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    peer, writer = await kernel(hub, "k1")
    send(peer, encode_frame(LinkKind.CALL, {"id": 1, "ns": "/", "sid": socket.id, "at": 1,
                                            "event": "q"}, '2["q"]'))
    send(peer, encode_frame(LinkKind.EMIT, {"ns": "/", "to": [socket.id]}, '2["after"]'))
    assert [p.data[0] for p in channel.packets] == ["q", "after"]
    call = channel.packets[0]
    assert call.id is not None  # the hub put its own ack id into the kernel's packet
    feed(socket.client, SocketPacket(SocketPacketType.ACK, "/", ["answer"], call.id))
    await settle()
    [(_, result, payload)] = writer.frames("result")
    assert result["id"] == 1 and json.loads(payload or "") == ["answer"]


async def test_client_events_go_to_one_kernel_by_owner_scope_then_newest() -> None:
    hub = Hub()
    hub.enable_browser_events()
    _, old_out = await kernel(hub, "old", [["/", "vote"]])
    _, new_out = await kernel(hub, "new", [["/", "vote"]])
    _, scoped_out = await kernel(hub, "scoped", [["/", "vote", ["team"]]])
    _, _, plain = await connect(hub)
    _, _, member = await connect(hub)
    member.join("team")
    _, _, widget = await connect(hub)
    hub.kernel_router.set_owner(widget, "old")

    for socket in (plain, member, widget):
        feed(socket.client, SocketPacket(SocketPacketType.EVENT, "/", ["vote", 1], 7))
    await settle()
    assert [h["sid"] for _, h, _ in new_out.frames("event")] == [plain.id]
    assert [h["sid"] for _, h, _ in scoped_out.frames("event")] == [member.id]
    assert [h["sid"] for _, h, _ in old_out.frames("event")] == [widget.id]
    assert all(h["user"] == "anonymous" for _, h, _ in new_out.frames("event"))


async def test_hub_handlers_come_first_and_the_catch_all_last() -> None:
    hub = Hub()
    seen: list[str] = []
    hub.on("mine", lambda socket, *a: seen.append("hub"))
    hub.on("*", lambda socket, event, *a: seen.append(f"*{event}"))
    _, out = await kernel(hub, "k", [["/", "mine"], ["/", "theirs"]])
    _, _, socket = await connect(hub)
    for event in ("mine", "theirs", "nobody"):
        feed(socket.client, SocketPacket(SocketPacketType.EVENT, "/", [event]))
    await settle()
    assert seen == ["hub", "*nobody"]
    assert [json.loads(p or "")[0] for _, _, p in out.frames("event")] == ["theirs"]


async def test_a_kernel_error_answers_the_client_with_its_type() -> None:
    hub = Hub()
    peer, out = await kernel(hub, "k", [["/", "vote"]])
    _, channel, socket = await connect(hub)
    feed(socket.client, SocketPacket(SocketPacketType.EVENT, "/", ["vote", {}], 3))
    await settle()
    [(_, header, _)] = out.frames("event")
    error = {"type": "TypeError", "message": "unhashable type: 'dict'"}
    send(peer, encode_frame(LinkKind.ANSWER, {"id": header["id"], "error": error}))
    [ack] = channel.packets
    assert ack == SocketPacket(SocketPacketType.ACK, "/", [
        {"error": "TypeError", "message": "unhashable type: 'dict'", "event": "vote"}], 3)


async def test_a_full_recipient_pauses_the_link_until_there_is_room() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    socket.join("r")
    peer, _ = await kernel(hub, "k")
    channel.full = True
    emit = [encode_frame(LinkKind.EMIT, {"ns": "/", "to": ["r"]}, f'2["t",{i}]') for i in range(3)]
    paused = send(peer, *emit)
    assert paused is not None  # the transport must not read more until this is done
    task = asyncio.ensure_future(paused)
    await settle()
    assert not task.done()
    channel.make_room()
    await asyncio.wait_for(task, 5)
    assert [e[1] for e in channel.events("t")] == [0, 1, 2]  # in order, nothing lost


async def test_bad_frames_close_only_that_link_and_unknown_namespaces_answer_typed() -> None:
    hub = Hub()
    peer, out = await kernel(hub, "k")
    send(peer, encode_frame(LinkKind.SOCKETS, {"id": 5, "ns": "/nope"}))
    await settle()
    [(_, result, _)] = out.frames("result")
    assert result["error"]["type"] == "UnknownNamespace"
    other, _ = await kernel(hub, "k2")
    other.on_message("garbage")
    assert other.closed and not peer.closed
    assert hub.kernel_router.kernels == {"k": peer}


async def test_a_kernel_that_goes_away_settles_the_acks_it_owed() -> None:
    hub = Hub()
    peer, _ = await kernel(hub, "k", [["/", "slow"]])
    _, channel, socket = await connect(hub)
    feed(socket.client, SocketPacket(SocketPacketType.EVENT, "/", ["slow"], 9))
    await settle()
    hub.kernel_link_closed(peer, "transport close")
    [ack] = channel.packets
    assert ack.id == 9 and ack.data[0]["error"] == "Disconnected"
