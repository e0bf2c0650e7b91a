"""Small real test doubles for the hub and the protocol core (no sockets, no mocks).

- :class:`RecordingChannel` implements the hub's ``Channel`` protocol: it records every
  :class:`~jupyter_sio.protocol.frames.Outgoing` it is given and decodes them back with the
  protocol's own decoders, so tests assert on Socket.IO packets, not on strings. Set
  ``full = True`` to make it refuse reliable packets (backpressure), then :meth:`make_room`.
- :func:`connect` opens a client on a hub and joins a namespace, :func:`feed` sends it a packet.
- :func:`parse_ws_frames` reads back server WebSocket frames.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from typing import Any

from jupyter_sio.hub import Client, Handshake, Hub, Socket
from jupyter_sio.hub.delivery import Pending
from jupyter_sio.protocol.eio_codec import EnginePacketType, decode_packet
from jupyter_sio.protocol.frames import Outgoing
from jupyter_sio.protocol.sio_codec import (
    PacketDecoder,
    SocketPacket,
    SocketPacketType,
    encode_packet,
)

_ids = itertools.count(1)


class RecordingChannel:
    """A transport connection that records what the hub sends it."""

    def __init__(self, sid: str | None = None, transport_name: str = "websocket") -> None:
        self.sid = sid or f"chan{next(_ids)}"
        self.transport_name = transport_name
        #: Packets accepted, in order (the same objects the hub handed over).
        self.sent: list[Outgoing] = []
        #: Volatile or keyed packets refused while full.
        self.dropped: list[Outgoing] = []
        #: Reliable packets waiting for room, with the futures handed back to the hub.
        self.waiting: list[tuple[Outgoing, asyncio.Future[None]]] = []
        #: Reasons of every ``close`` call.
        self.closed: list[str] = []
        self.full = False

    # -- the Channel protocol --------------------------------------------------------------
    def send(self, packet: Outgoing) -> bool:
        if self.full:
            if packet.volatile or packet.key is not None:
                self.dropped.append(packet)
                return True
            return False
        self.sent.append(packet)
        return True

    def send_when_room(self, packet: Outgoing) -> Pending:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.full:
            self.waiting.append((packet, future))
        else:
            self.sent.append(packet)
            future.set_result(None)
        return Pending(future)

    def close(self, reason: str = "forced close") -> None:
        self.closed.append(reason)

    # -- test controls ---------------------------------------------------------------------
    def make_room(self) -> None:
        """Stop being full and accept every waiting packet, in order."""
        self.full = False
        waiting, self.waiting = self.waiting, []
        for packet, future in waiting:
            if not future.done():
                self.sent.append(packet)
                future.set_result(None)

    def fail_waiting(self, exc: BaseException) -> None:
        """Fail every waiting packet (what a transport does after ``send_timeout``)."""
        waiting, self.waiting = self.waiting, []
        for _packet, future in waiting:
            if not future.done():
                future.set_exception(exc)

    def clear(self) -> None:
        self.sent.clear()

    # -- decoding --------------------------------------------------------------------------
    @property
    def packets(self) -> list[SocketPacket]:
        """Every accepted packet decoded back into a Socket.IO packet."""
        return [decode_outgoing(out) for out in self.sent]

    def events(self, name: str | None = None) -> list[list[Any]]:
        """The ``[event, *args]`` data of EVENT packets (only ``name`` if given)."""
        return [
            p.data
            for p in self.packets
            if p.type is SocketPacketType.EVENT and (name is None or p.data[0] == name)
        ]

    def __repr__(self) -> str:
        return f"RecordingChannel({self.sid!r}, sent={len(self.sent)}, full={self.full})"


def decode_outgoing(out: Outgoing) -> SocketPacket:
    """Decode one Outgoing (an Engine.IO MESSAGE plus attachments) with the real decoders."""
    engine = decode_packet(out.text)
    assert engine.type is EnginePacketType.MESSAGE, out
    decoder = PacketDecoder(max_attachments=1000, max_bytes=1 << 30)
    packet = decoder.feed(engine.data)
    for attachment in out.attachments:
        assert packet is None, "attachment after a complete packet"
        packet = decoder.feed(attachment)
    assert packet is not None, "incomplete packet"
    return packet


async def settle(rounds: int = 5) -> None:
    """Let scheduled callbacks and tasks run (admission, async handlers)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def feed(client: Client, packet: SocketPacket) -> None:
    """Deliver a Socket.IO packet from the client, attachments included."""
    text, attachments = encode_packet(packet)
    client.on_message(text)
    for attachment in attachments:
        client.on_message(attachment)


def open_client(
    hub: Hub, channel: RecordingChannel | None = None
) -> tuple[Client, RecordingChannel]:
    channel = channel or RecordingChannel()
    return hub.connect_client(channel, Handshake()), channel


async def connect(
    hub: Hub,
    namespace: str = "/",
    auth: dict[str, Any] | None = None,
    channel: RecordingChannel | None = None,
) -> tuple[Client, RecordingChannel, Socket]:
    """A client joined to ``namespace``; its CONNECT reply is cleared from the channel."""
    client, channel = open_client(hub, channel)
    feed(client, SocketPacket(SocketPacketType.CONNECT, namespace, auth))
    await settle()
    socket = client.sockets[namespace]
    reply = channel.packets[-1]
    assert reply == SocketPacket(SocketPacketType.CONNECT, namespace, {"sid": socket.id})
    channel.clear()
    return client, channel, socket


def parse_ws_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames into ``(first byte, payload)`` pairs."""
    frames = []
    pos = 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert not second & 0x80, "server frames are never masked"
        size, pos = second & 0x7F, pos + 2
        if size == 126:
            (size,) = struct.unpack_from("!H", data, pos)
            pos += 2
        elif size == 127:
            (size,) = struct.unpack_from("!Q", data, pos)
            pos += 8
        frames.append((first, data[pos : pos + size]))
        pos += size
    return frames
