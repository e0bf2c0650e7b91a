"""The packet encoders give the same text with orjson and with the stdlib (issue 11), and
the fast decode path gives the same packets as the general one."""

from __future__ import annotations

import collections
import contextlib
import enum
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_sio.exceptions import RemoteProtocolError
from jupyter_sio.protocol import sio_codec
from jupyter_sio.protocol.sio_codec import (
    MAX_DEPTH,
    PacketDecoder,
    SocketPacket,
    SocketPacketType,
    decode_plain,
    encode_ack_packet,
    encode_event_packet,
    encode_packet,
)

HAVE_ORJSON = sio_codec._orjson is not None


@pytest.fixture(params=["stdlib", "orjson"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "orjson" and not HAVE_ORJSON:
        pytest.skip("orjson is not installed")
    before = sio_codec._encode_json
    assert sio_codec.use_orjson(request.param == "orjson") is (request.param == "orjson")
    try:
        yield request.param
    finally:
        sio_codec._encode_json = before


class Ordered(collections.OrderedDict[str, Any]):
    pass


SAME_TEXT = [
    ["e", {"n": 1, "s": "hello", "b": True, "z": None}],
    ["e", 'é ü 😀 \u2028 \x7f \x00 \x1f " \\ /'],
    ["e", 2**63 - 1, -(2**63), 2**64 - 1],
    ["e", 2**64, -(2**63) - 1, 10**40],  # beyond 64 bits: the stdlib's digits
    ["e", 0.1, -0.0, 1.5, 1e16, 1e22, 123456789.125],
    ["e", (1, 2, (3,))],
    ["e", {1: "int key", False: "bool key", None: "none key", 2.5: "float key"}],
    ["e", collections.OrderedDict([("b", 1), ("a", 2)])],
    ["e", {"nested": [[[[{"deep": [1]}]]]]}],
    ["e", []],
    ["e", {}],
]


@pytest.mark.parametrize("data", SAME_TEXT, ids=range(len(SAME_TEXT)))
def test_encoders_agree_with_the_stdlib_text(backend: str, data: list[Any]) -> None:
    expected = sio_codec._dumps(data)
    text, attachments = encode_event_packet("/", data, 7)
    assert (text, attachments) == ("27" + expected, [])
    assert encode_ack_packet("/chat", data, 3, prefix="4") == ("43/chat,3" + expected, [])


def test_a_moved_key_keeps_the_stdlib_order(backend: str) -> None:
    ordered = Ordered(a=1, b=2)
    ordered.move_to_end("a")
    assert encode_event_packet("/", ["e", ordered])[0] == '2["e",{"b":2,"a":1}]'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(backend: str, value: float) -> None:
    with pytest.raises(TypeError, match="cannot send this data as JSON"):
        encode_event_packet("/", ["e", {"v": [None, value]}])


def test_depth_limit_holds(backend: str) -> None:
    data: Any = 1
    for _ in range(MAX_DEPTH):
        data = [data]
    with pytest.raises(TypeError, match="MAX_DEPTH"):
        encode_event_packet("/", ["e", data])


def test_circular_data_is_refused(backend: str) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError, match="MAX_DEPTH"):
        encode_ack_packet("/", [loop], 1)


def test_binary_values_become_attachments(backend: str) -> None:
    text, attachments = encode_ack_packet("/", [{"blob": b"\x00\x01"}, "x"], 5)
    assert text == '61-5[{"blob":{"_placeholder":true,"num":0}},"x"]'
    assert attachments == [b"\x00\x01"]


def test_unencodable_values_raise_type_error(backend: str) -> None:
    with pytest.raises(TypeError):
        encode_event_packet("/", ["e", object()])
    with pytest.raises(TypeError):
        encode_event_packet("/", ["e", {("tuple", "key"): 1}])


def test_lone_surrogates_are_left_to_the_stdlib(backend: str) -> None:
    assert encode_event_packet("/", ["e", "\ud800"])[0] == '2["e","\ud800"]'


class Color(enum.IntEnum):
    RED = 1


def test_int_enums_encode_as_their_value(backend: str) -> None:
    assert encode_event_packet("/", ["e", Color.RED])[0] == '2["e",1]'


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_orjson_text_is_the_stdlib_text(value: Any) -> None:
    if not HAVE_ORJSON:
        pytest.skip("orjson is not installed")
    expected = sio_codec._dumps(["e", value])
    before = sio_codec._encode_json
    sio_codec.use_orjson(True)
    try:
        got = encode_event_packet("/", ["e", value])[0][1:]
    finally:
        sio_codec._encode_json = before
    if got != expected:
        # Only the spelling of a float may differ (1e-7 / 1e-07, 0.00006103515625 /
        # 6.103515625e-05): read back and written by the stdlib, it is the stdlib's text.
        assert sio_codec._dumps(sio_codec._loads(got)) == expected


# -- the fast decode path -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "packet"),
    [
        ('2["a",1]', SocketPacket(SocketPacketType.EVENT, "/", ["a", 1], None)),
        ('212["a"]', SocketPacket(SocketPacketType.EVENT, "/", ["a"], 12)),
        (
            '2/chat,3["a",{"b":[]}]',
            SocketPacket(SocketPacketType.EVENT, "/chat", ["a", {"b": []}], 3),
        ),
        ("2[7]", SocketPacket(SocketPacketType.EVENT, "/", [7], None)),
        ('30["x"]', SocketPacket(SocketPacketType.ACK, "/", ["x"], 0)),
        ("3/a,9[]", SocketPacket(SocketPacketType.ACK, "/a", [], 9)),
    ],
)
def test_plain_packets_decode_on_the_fast_path(text: str, packet: SocketPacket) -> None:
    plain = decode_plain(text)
    assert plain is not None
    assert SocketPacket(*plain) == packet
    assert PacketDecoder().feed(text) == packet


@pytest.mark.parametrize(
    "text",
    [
        '2 ["a"]',
        '2["a"] ',
        '21 ["a"]',
        "2",
        "2/chat",
        '2/chat["a"]',
        '2{"a":["b"]}',
        "2" + "1" * 16 + '["a"]',
        '2²["a"]',
        '2["a",NaN]',
        '2["connect"]',
        "2[]",
        "2[true]",
        '2["a",1',
        '5["a"]',
        '0{"a":[1]}',
        '2["a"]]',
        '3{"a":[1]}',
    ],
)
def test_other_packets_take_the_general_path(text: str) -> None:
    assert decode_plain(text) is None
    with contextlib.suppress(RemoteProtocolError):  # valid, or refused: nothing else
        PacketDecoder().feed(text)


def test_a_deep_event_is_refused_as_before() -> None:
    text = "2" + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert decode_plain(text) is None
    with pytest.raises(RemoteProtocolError, match="deeper"):
        PacketDecoder().feed(text)


def test_text_while_attachments_are_due_is_not_fast() -> None:
    decoder = PacketDecoder()
    assert decoder.feed('51-["a",{"_placeholder":true,"num":0}]') is None
    assert decoder.feed_plain('2["a"]') is None
    with pytest.raises(RemoteProtocolError):
        decoder.feed('2["a"]')


def test_encode_packet_still_matches_the_ack_encoder(backend: str) -> None:
    packet = SocketPacket(SocketPacketType.ACK, "/n", [{"x": 1}, "y"], 4)
    assert encode_packet(packet) == encode_ack_packet("/n", [{"x": 1}, "y"], 4)
