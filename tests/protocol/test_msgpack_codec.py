"""The msgpack parser's codec, without sockets: round trips, the payload shapes, limits,
and a seeded mutation fuzz (10,000 inputs per run; ``JSIO_FUZZ_EXAMPLES`` raises it)."""

from __future__ import annotations

import os
import random

import pytest

from jupyter_sio.exceptions import PayloadTooLarge, RemoteProtocolError
from jupyter_sio.protocol import msgpack_codec
from jupyter_sio.protocol.msgpack_codec import MsgpackDecoder
from jupyter_sio.protocol.sio_codec import MAX_DEPTH, SocketPacket, SocketPacketType

T = SocketPacketType
PACKETS = [
    SocketPacket(T.CONNECT, "/", None),
    SocketPacket(T.CONNECT, "/admin", {"token": "x"}),
    SocketPacket(T.EVENT, "/", ["chat", "hi", 1.5, None, True]),
    SocketPacket(T.EVENT, "/", ["blob", b"\x00\xff", {"nested": [b"x"]}], 7),
    SocketPacket(T.ACK, "/chat", ["ok", b"\x01"], 3),
    SocketPacket(T.CONNECT_ERROR, "/", {"message": "no"}),
    SocketPacket(T.DISCONNECT, "/x"),
]


@pytest.mark.parametrize("packet", PACKETS)
def test_round_trip(packet: SocketPacket) -> None:
    assert MsgpackDecoder().feed(msgpack_codec.encode(packet)) == packet


def test_the_npm_parsers_undefined_is_none() -> None:
    # {type: 0, nsp: "/", data: undefined} as socket.io-msgpack-parser writes it
    packet = MsgpackDecoder().feed(bytes.fromhex("83a47479706500a36e7370a12fa464617461d40000"))
    assert packet == SocketPacket(T.CONNECT, "/", None)


@pytest.mark.parametrize("body", [
    {"type": 9, "nsp": "/"}, {"type": "2", "nsp": "/", "data": ["x"]}, {"type": 2, "nsp": 3},
    {"type": 2, "nsp": "/", "data": []}, {"type": 2, "nsp": "/", "data": ["connect"]},
    {"type": 2, "nsp": "/", "data": ["x"], "id": -1}, {"type": 2, "nsp": "/", "data": ["x"],
                                                        "id": True}, ["not", "a", "map"],
])
def test_bad_packets_are_protocol_errors(body: object) -> None:
    import msgpack

    with pytest.raises(RemoteProtocolError):
        MsgpackDecoder().feed(msgpack.packb(body, use_bin_type=True))


def test_text_means_the_default_parser_and_limits_hold() -> None:
    with pytest.raises(RemoteProtocolError, match=r"default Socket\.IO parser"):
        MsgpackDecoder().feed("40")
    big = msgpack_codec.encode(SocketPacket(T.EVENT, "/", ["x", b"y" * 5000]))
    with pytest.raises(PayloadTooLarge):
        MsgpackDecoder(max_bytes=1000).feed(big)
    deep: list[object] = ["x"]
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(TypeError, match="deeper"):
        msgpack_codec.encode(SocketPacket(T.EVENT, "/", ["e", deep]))


def test_mutation_fuzz_raises_only_protocol_errors() -> None:
    rng = random.Random(1202)
    seeds = [msgpack_codec.encode(p) for p in PACKETS]
    decoder = MsgpackDecoder(max_bytes=10_000)
    for _ in range(int(os.environ.get("JSIO_FUZZ_EXAMPLES", "10000"))):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            op = rng.random()
            at = rng.randrange(len(data) + 1)
            if op < 0.4 and data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif op < 0.7:
                data[at:at] = bytes([rng.randrange(256)])
            else:
                del data[at:at + rng.randrange(1, 4)]
        try:
            packet = decoder.feed(bytes(data))
        except (RemoteProtocolError, PayloadTooLarge):
            continue
        again = msgpack_codec.encode(packet)  # (bytes, not objects: NaN != NaN)
        assert msgpack_codec.encode(decoder.feed(again)) == again
