"""Socket.IO v5 packets, binary placeholders and attachment assembly (spec: socket-io-protocol)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_sio.exceptions import LocalProtocolError, PayloadTooLarge, RemoteProtocolError
from jupyter_sio.protocol.sio_codec import (
    RESERVED_EVENTS,
    PacketDecoder,
    SocketPacket,
    SocketPacketType,
    deconstruct,
    dumps,
    encode_packet,
)

T = SocketPacketType
P = SocketPacket


def ph(num: int) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


# -- text packets, both directions ----------------------------------------------------------
TEXT_CASES = [
    (P(T.CONNECT), "0"),
    (P(T.CONNECT, "/admin"), "0/admin,"),
    (P(T.CONNECT, "/", {"token": "x"}), '0{"token":"x"}'),
    (P(T.CONNECT, "/admin", {"token": "x"}), '0/admin,{"token":"x"}'),
    (P(T.CONNECT, "/", {"sid": "abc"}), '0{"sid":"abc"}'),
    (P(T.DISCONNECT), "1"),
    (P(T.DISCONNECT, "/admin"), "1/admin,"),
    (P(T.EVENT, "/", ["ev"]), '2["ev"]'),
    (P(T.EVENT, "/", ["ev", 1]), '2["ev",1]'),
    (P(T.EVENT, "/", ["ev", 1], 13), '213["ev",1]'),
    (P(T.EVENT, "/admin", ["ev", 1]), '2/admin,["ev",1]'),
    (P(T.EVENT, "/admin", ["ev", 1], 13), '2/admin,13["ev",1]'),
    (
        P(T.EVENT, "/", ["ev", {"a": [1, 2.5, None, True]}, "é😀"]),
        '2["ev",{"a":[1,2.5,null,true]},"é😀"]',
    ),
    (P(T.EVENT, "/", [7, "numeric event name"]), '2[7,"numeric event name"]'),
    (P(T.ACK, "/", [], 0), "30[]"),
    (P(T.ACK, "/", ["ok", 2], 13), '313["ok",2]'),
    (P(T.ACK, "/admin", ["ok"], 13), '3/admin,13["ok"]'),
    (P(T.CONNECT_ERROR, "/", {"message": "m", "data": 1}), '4{"message":"m","data":1}'),
    (P(T.CONNECT_ERROR, "/admin", {"message": "m"}), '4/admin,{"message":"m"}'),
    (P(T.CONNECT_ERROR, "/", "legacy string"), '4"legacy string"'),
]


@pytest.mark.parametrize(("packet", "text"), TEXT_CASES)
def test_encode_text_packet(packet: SocketPacket, text: str) -> None:
    assert encode_packet(packet) == (text, [])


@pytest.mark.parametrize(("packet", "text"), TEXT_CASES)
def test_decode_text_packet(packet: SocketPacket, text: str) -> None:
    decoder = PacketDecoder()
    assert decoder.feed(text) == packet
    assert not decoder.waiting


def test_namespace_without_trailing_comma_is_accepted() -> None:
    assert PacketDecoder().feed("0/admin") == P(T.CONNECT, "/admin")
    assert PacketDecoder().feed("1/admin") == P(T.DISCONNECT, "/admin")


def test_packet_types_have_their_wire_numbers() -> None:
    assert [(t.name, int(t)) for t in T] == [
        ("CONNECT", 0),
        ("DISCONNECT", 1),
        ("EVENT", 2),
        ("ACK", 3),
        ("CONNECT_ERROR", 4),
        ("BINARY_EVENT", 5),
        ("BINARY_ACK", 6),
    ]


# -- binary packets -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("packet", "text", "attachments"),
    [
        (P(T.EVENT, "/", ["ev", b"\x01"], 1), f'51-1["ev",{dumps(ph(0))}]', [b"\x01"]),
        (P(T.EVENT, "/", ["ev", b"\x01"]), f'51-["ev",{dumps(ph(0))}]', [b"\x01"]),
        (
            P(T.EVENT, "/admin", ["ev", b"a", b"b"], 7),
            f'52-/admin,7["ev",{dumps(ph(0))},{dumps(ph(1))}]',
            [b"a", b"b"],
        ),
        (P(T.ACK, "/", [b"\xff"], 3), f"61-3[{dumps(ph(0))}]", [b"\xff"]),
        (P(T.ACK, "/admin", [b""], 3), f"61-/admin,3[{dumps(ph(0))}]", [b""]),
    ],
)
def test_binary_packet_both_ways(packet: SocketPacket, text: str, attachments: list[bytes]) -> None:
    assert encode_packet(packet) == (text, attachments)
    decoder = PacketDecoder()
    assert decoder.feed(text) is None
    assert decoder.waiting
    for attachment in attachments[:-1]:
        assert decoder.feed(attachment) is None
    assert decoder.feed(attachments[-1]) == packet  # type is EVENT/ACK again
    assert not decoder.waiting


@pytest.mark.parametrize(
    "value",
    [b"\x01\x02", bytearray(b"\x01\x02"), memoryview(b"\x01\x02")],
    ids=["bytes", "bytearray", "memoryview"],
)
@pytest.mark.parametrize(
    ("wrap", "expected"),
    [
        (lambda v: ["ev", v], ["ev", ph(0)]),
        (lambda v: ["ev", {"k": v}], ["ev", {"k": ph(0)}]),
        (lambda v: ["ev", [1, [v]]], ["ev", [1, [ph(0)]]]),
        (lambda v: ["ev", (1, v)], ["ev", [1, ph(0)]]),
        (lambda v: ["ev", {"a": [{"b": (v,)}]}], ["ev", {"a": [{"b": [ph(0)]}]}]),
    ],
    ids=["arg", "dict", "nested-list", "tuple", "deep"],
)
def test_binary_anywhere_becomes_a_placeholder(value: Any, wrap: Any, expected: Any) -> None:
    text, attachments = encode_packet(P(T.EVENT, "/", wrap(value)))
    assert text == "51-" + dumps(expected)
    assert attachments == [b"\x01\x02"]
    assert all(type(a) is bytes for a in attachments)


def test_binary_ack_from_tuple_data() -> None:
    text, attachments = encode_packet(P(T.ACK, "/", [(b"x", {"y": bytearray(b"z")})], 4))
    assert text == f'62-4[[{dumps(ph(0))},{{"y":{dumps(ph(1))}}}]]'
    assert attachments == [b"x", b"z"]


def test_encoding_without_binary_does_not_copy() -> None:
    data = ["ev", {"a": [1, 2]}]
    assert deconstruct(data, []) is data  # the common case costs no copy
    assert encode_packet(P(T.EVENT, "/", data)) == ('2["ev",{"a":[1,2]}]', [])
    assert data == ["ev", {"a": [1, 2]}]


def test_encoding_with_binary_does_not_mutate_the_data() -> None:
    inner = {"blob": b"x"}
    data = ["ev", inner]
    encode_packet(P(T.EVENT, "/", data))
    assert data == ["ev", {"blob": b"x"}]
    assert inner == {"blob": b"x"}


@pytest.mark.parametrize("ptype", [T.CONNECT, T.CONNECT_ERROR])
def test_binary_in_a_packet_type_without_binary_form_is_a_local_error(ptype: T) -> None:
    with pytest.raises(LocalProtocolError):
        encode_packet(P(ptype, "/", {"blob": b"x"}))


@pytest.mark.parametrize("value", [object(), {1, 2}, math.nan, math.inf])
def test_unserializable_data_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="JSON"):
        encode_packet(P(T.EVENT, "/", ["ev", value]))


def test_dumps_is_compact_and_utf8() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'


# -- the decoder refuses ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "x",  # not a type
        "7",  # unknown type
        "9[]",  # unknown type
        "2",  # EVENT without data
        '2{"a":1}',  # EVENT with an object
        '2"ev"',  # EVENT with a string
        "2[]",  # EVENT with an empty array
        "2[null]",  # event name not a string
        "2[true]",  # a bool is not a numeric event name
        '2[["ev"]]',
        *[f'2["{name}"]' for name in sorted(RESERVED_EVENTS)],
        '2/admin,["disconnect",1]',
        "0[]",  # CONNECT with an array
        '0"token"',  # CONNECT with a string
        '1{"a":1}',  # DISCONNECT with data
        "1[]",
        "4",  # CONNECT_ERROR without data
        "4[]",
        "4 1",
        "3",  # ACK without data
        '3{"a":1}',  # ACK with an object
        "31",  # ACK with an id but no data
        '2["ev",',  # malformed JSON
        '2["ev"]]',  # trailing garbage
        '0{"a":}',
        '2["ev"] x',
        '5["ev"]',  # binary without an attachment count
        '5-["ev"]',
        '5x-["ev"]',
        '51["ev"]',  # no dash
        '51234567-["ev"]',  # count too long
        '61-{"a":1}',  # BINARY_ACK with an object
        '51-["connect"]',
    ],
)
def test_invalid_text_is_a_remote_error(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        PacketDecoder().feed(text)


def test_ack_id_too_long_is_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError, match="ack id"):
        PacketDecoder().feed("2" + "1" * 16 + '["ev"]')
    assert PacketDecoder().feed("2" + "9" * 15 + '["ev"]') == P(T.EVENT, "/", ["ev"], int("9" * 15))


@pytest.mark.parametrize(
    "text",
    [
        "2" + "1" * 5000 + '["ev"]',  # int() refuses > 4300 digits with ValueError
        '2\u00b2["ev"]',  # superscript two: isdigit() is True, int() raises ValueError
        '5\u00b2-["ev",{"_placeholder":true,"num":0}]',
        "2" + "[" * 100_000,  # json.loads raises RecursionError
    ],
    ids=["huge-ack-id", "superscript-ack-id", "superscript-count", "deep-nesting"],
)
def test_hostile_text_is_a_remote_error_not_a_crash(text: str) -> None:
    # The decoder's contract: invalid peer input raises RemoteProtocolError (the hub closes
    # the connection with "parse error"); any other exception escapes into the transport.
    with pytest.raises(RemoteProtocolError):
        PacketDecoder().feed(text)


@pytest.mark.parametrize(
    "digit", ["\u0662", "\u0968", "\uff12"], ids=["arabic-indic", "devanagari", "fullwidth"]
)
@pytest.mark.parametrize("where", ["type", "ack-id"])
def test_non_ascii_digits_are_not_wire_digits(digit: str, where: str) -> None:
    # socket.io-parser reads the type and the ack id with Number(c), which is NaN for these
    # characters; str.isdigit() and int() accept them.
    text = digit + '["ev"]' if where == "type" else "2" + digit + '["ev"]'
    with pytest.raises(RemoteProtocolError):
        PacketDecoder().feed(text)


def test_binary_without_header_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="without a binary packet header"):
        PacketDecoder().feed(b"\x01")


def test_binary_after_a_complete_packet_is_refused() -> None:
    decoder = PacketDecoder()
    assert decoder.feed('51-["ev",{"_placeholder":true,"num":0}]') is None
    assert decoder.feed(b"a") is not None
    with pytest.raises(RemoteProtocolError):
        decoder.feed(b"b")


def test_text_while_attachments_are_due_is_refused() -> None:
    decoder = PacketDecoder()
    decoder.feed('52-["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    decoder.feed(b"a")
    with pytest.raises(RemoteProtocolError, match="attachments were due"):
        decoder.feed('2["ev"]')


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_attachment_count_is_capped(limit: int) -> None:
    placeholders = ",".join(dumps(ph(i)) for i in range(limit + 1))
    with pytest.raises(PayloadTooLarge, match=f"max_attachments is {limit}"):
        PacketDecoder(max_attachments=limit).feed(f'5{limit + 1}-["ev",{placeholders}]')
    if limit:
        placeholders = ",".join(dumps(ph(i)) for i in range(limit))
        assert PacketDecoder(max_attachments=limit).feed(f'5{limit}-["ev",{placeholders}]') is None


def test_attachment_bytes_are_capped() -> None:
    text = '52-["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    decoder = PacketDecoder(max_bytes=10)
    decoder.feed(text)
    decoder.feed(b"x" * 6)
    with pytest.raises(PayloadTooLarge, match="10 bytes"):
        decoder.feed(b"x" * 5)
    exact = PacketDecoder(max_bytes=10)
    exact.feed(text)
    exact.feed(b"x" * 6)
    assert exact.feed(b"x" * 4) == P(T.EVENT, "/", ["ev", b"x" * 6, b"x" * 4])


@pytest.mark.parametrize("num", [1, -1, 5, "0", None, 0.5])
def test_placeholder_out_of_range_is_refused(num: Any) -> None:
    decoder = PacketDecoder()
    decoder.feed("51-" + dumps(["ev", {"_placeholder": True, "num": num}]))
    with pytest.raises(RemoteProtocolError, match="placeholder"):
        decoder.feed(b"a")


def test_placeholder_in_a_plain_packet_is_just_data() -> None:
    packet = PacketDecoder().feed('2["ev",{"_placeholder":true,"num":0}]')
    assert packet == P(T.EVENT, "/", ["ev", ph(0)])


def test_zero_attachment_binary_packet_is_complete_at_once() -> None:
    assert PacketDecoder().feed('50-["ev",1]') == P(T.EVENT, "/", ["ev", 1])


def test_decoder_is_reusable_across_packets() -> None:
    decoder = PacketDecoder()
    assert decoder.feed('2["a"]') == P(T.EVENT, "/", ["a"])
    assert decoder.feed('51-["b",{"_placeholder":true,"num":0}]') is None
    assert decoder.feed(b"1") == P(T.EVENT, "/", ["b", b"1"])
    assert decoder.feed('61-5[{"_placeholder":true,"num":0}]') is None
    assert decoder.feed(b"2") == P(T.ACK, "/", [b"2"], 5)
    assert decoder.feed("31[]") == P(T.ACK, "/", [], 1)


# -- property: encode_packet -> PacketDecoder round trip ------------------------------------
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.binary(max_size=64),
)
_keys = st.text().filter(lambda k: k not in ("_placeholder", "num"))
_json = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=25,
)
_namespaces = st.one_of(
    st.just("/"),
    st.text(alphabet=st.characters(blacklist_characters=","), min_size=1).map(lambda s: "/" + s),
)
_ack_ids = st.one_of(st.none(), st.integers(min_value=0, max_value=10**15 - 1))
_event_names = st.text().filter(lambda s: s not in RESERVED_EVENTS)


def _assemble(packet: SocketPacket) -> SocketPacket:
    text, attachments = encode_packet(packet)
    decoder = PacketDecoder(max_attachments=len(attachments), max_bytes=1 << 20)
    result = decoder.feed(text)
    for attachment in attachments:
        assert result is None
        result = decoder.feed(attachment)
    assert result is not None
    assert not decoder.waiting
    return result


@given(_namespaces, _ack_ids, _event_names, st.lists(_json, max_size=5))
def test_event_round_trip(namespace: str, ack_id: int | None, event: str, args: list[Any]) -> None:
    packet = P(T.EVENT, namespace, [event, *args], ack_id)
    assert _assemble(packet) == packet


@given(_namespaces, st.integers(min_value=0, max_value=10**15 - 1), st.lists(_json, max_size=5))
def test_ack_round_trip(namespace: str, ack_id: int, args: list[Any]) -> None:
    packet = P(T.ACK, namespace, args, ack_id)
    assert _assemble(packet) == packet


@given(
    _namespaces,
    st.one_of(
        st.none(),
        st.dictionaries(_keys, _json.filter(lambda v: not isinstance(v, bytes)), max_size=3),
    ),
)
def test_connect_round_trip(namespace: str, auth: dict[str, Any] | None) -> None:
    # bytes inside CONNECT data are refused when encoding; keep leaves JSON-only.
    try:
        packet = P(T.CONNECT, namespace, auth)
        text, attachments = encode_packet(packet)
    except LocalProtocolError:
        return
    assert attachments == []
    assert PacketDecoder().feed(text) == packet
