"""Socket.IO v5 packets, binary placeholders and attachment assembly (spec: socket-io-protocol)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_sio.exceptions import LocalProtocolError, PayloadTooLarge, RemoteProtocolError
from jupyter_sio.protocol.sio_codec import (
    MAX_DEPTH,
    RESERVED_EVENTS,
    PacketDecoder,
    SocketPacket,
    SocketPacketType,
    deconstruct,
    dumps,
    encode_event_packet,
    encode_packet,
    json_depth,
    json_too_deep,
    reconstruct,
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


# -- hostile input: depth, placeholders, NaN (hardening issue; found by fuzzing) ------------
def nested(depth: int, leaf: Any = 1, *, kind: str = "list") -> Any:
    """``depth`` arrays (or objects) around ``leaf``, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def nested_text(depth: int, kind: str = "list") -> str:
    """The JSON of :func:`nested`, built as text (deeper than ``json.dumps`` can go)."""
    if kind == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"k":' * depth + "1" + "}" * depth


def test_max_depth_is_documented_and_the_decoder_default() -> None:
    assert MAX_DEPTH == 100
    assert PacketDecoder().max_depth == MAX_DEPTH


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [50, 500, 5000, 100_000])
def test_deep_packets_are_a_remote_error_never_a_recursion_error(kind: str, depth: int) -> None:
    # the event array is the first level: ["ev", <depth - 1 levels>]
    text = '2["ev",' + nested_text(depth - 1, kind) + "]"
    if depth <= MAX_DEPTH:
        packet = PacketDecoder().feed(text)
        assert packet is not None and json_depth(dumps(packet.data)) == depth
    else:
        with pytest.raises(RemoteProtocolError, match=r"deeper|invalid JSON"):
            PacketDecoder().feed(text)


@pytest.mark.parametrize("limit", [1, 2, 10, MAX_DEPTH])
def test_depth_limit_is_exact(limit: int) -> None:
    at_limit = "3" + "1" + nested_text(limit).replace("1", '"x"', 1)  # ACK 1, data at the limit
    assert PacketDecoder(max_depth=limit).feed(at_limit) is not None
    with pytest.raises(RemoteProtocolError, match=f"deeper than {limit}"):
        PacketDecoder(max_depth=limit).feed("31" + nested_text(limit + 1))


@pytest.mark.parametrize("where", ["auth", "ack", "connect_error"])
def test_depth_limit_covers_every_packet_type(where: str) -> None:
    deep = nested_text(MAX_DEPTH + 1, "dict")
    text = {"auth": "0" + deep, "ack": "31[" + deep + "]", "connect_error": "4" + deep}[where]
    with pytest.raises(RemoteProtocolError, match="deeper"):
        PacketDecoder().feed(text)


def test_deep_binary_packet_is_refused_before_reconstruct() -> None:
    decoder = PacketDecoder()
    with pytest.raises(RemoteProtocolError, match="deeper"):
        decoder.feed("51-" + json.dumps(["ev", nested(MAX_DEPTH - 1, ph(0))]))  # placeholder: +1
    packet = PacketDecoder()
    assert packet.feed("51-" + dumps(["ev", nested(MAX_DEPTH - 2, ph(0))])) is None
    assert packet.feed(b"x") == P(T.EVENT, "/", ["ev", nested(MAX_DEPTH - 2, b"x")])


def test_wide_and_bracket_heavy_data_is_not_deep() -> None:
    # many containers (the cheap bound exceeds the limit) and brackets inside strings
    wide = ["ev", [[i, {"a": [i]}] for i in range(500)], "[[[{{{" * 100, '\\"[' * 50]
    text, _ = encode_packet(P(T.EVENT, "/", wide))
    assert text.count("[") > MAX_DEPTH
    assert PacketDecoder().feed(text) == P(T.EVENT, "/", wide)


@pytest.mark.parametrize("depth", [50, 500, 5000, 100_000])
@pytest.mark.parametrize("binary", [False, True], ids=["json", "with-binary"])
def test_deep_data_is_a_type_error_for_the_emitter(depth: int, binary: bool) -> None:
    data = ["ev", nested(depth - 1, b"x" if binary else 1)]
    encoders = [
        lambda: encode_event_packet("/", data),
        lambda: encode_packet(P(T.EVENT, "/", data)),
        lambda: encode_packet(P(T.ACK, "/", data, 1)),
        lambda: dumps(deconstruct(data, [])),
    ]
    if not binary:
        encoders.append(lambda: dumps(data))
    for encode in encoders:
        if depth + binary <= MAX_DEPTH:
            encode()
        else:
            with pytest.raises(TypeError, match="nests deeper than MAX_DEPTH"):
                encode()


def test_what_the_encoder_sends_the_decoder_accepts_at_the_limit() -> None:
    data = ["ev", nested(MAX_DEPTH - 2, b"x")]  # the placeholder is level MAX_DEPTH
    text, attachments = encode_event_packet("/", data)
    decoder = PacketDecoder()
    assert decoder.feed(text) is None
    assert decoder.feed(attachments[0]) == P(T.EVENT, "/", data)
    with pytest.raises(TypeError, match="deeper"):
        encode_event_packet("/", ["ev", nested(MAX_DEPTH - 1, b"x")])


def test_circular_data_is_a_type_error() -> None:
    loop: list[Any] = ["ev"]
    loop.append(loop)
    with pytest.raises(TypeError, match="JSON"):
        encode_event_packet("/", loop)
    loop.append(b"x")  # with binary: deconstruct's depth bound stops it
    with pytest.raises(TypeError, match="deeper"):
        encode_event_packet("/", loop)


def test_reconstruct_is_depth_bounded() -> None:
    # kernels call reconstruct on link payloads parsed by plain json.loads
    with pytest.raises(RemoteProtocolError, match="deep"):
        reconstruct(nested(MAX_DEPTH + 1), [b"x"])
    assert reconstruct(nested(MAX_DEPTH - 1, ph(0)), [b"x"]) == nested(MAX_DEPTH - 1, b"x")


def _binary_packet(data: Any, attachments: list[bytes]) -> SocketPacket | None:
    decoder = PacketDecoder(max_attachments=len(attachments))
    result = decoder.feed(f"5{len(attachments)}-" + dumps(data))
    for attachment in attachments:
        result = decoder.feed(attachment)
    return result


def test_2000_references_to_one_attachment_are_refused() -> None:
    # the outside fuzzer's 560 KB packet: one attachment, 2,000 placeholders naming it
    data = ["ev", *[ph(0)] * 2000]
    with pytest.raises(RemoteProtocolError, match="referenced twice"):
        _binary_packet(data, [b"x" * 1000])


@pytest.mark.parametrize(
    "data",
    [
        ["ev", ph(0), ph(0)],  # a duplicate, even with attachments to spare
        ["ev", ph(0), {"a": [ph(0)]}],
        ["ev", ph(1), ph(0), ph(1)],
        ["ev", ph(0), ph(1), ph(2)],  # more placeholders than attachments
    ],
)
def test_each_attachment_is_referenced_at_most_once(data: list[Any]) -> None:
    with pytest.raises(RemoteProtocolError, match="placeholder"):
        _binary_packet(data, [b"a", b"b"])


@pytest.mark.parametrize(
    "placeholder",
    [
        {"_placeholder": True},  # no num (socket.io-parser: "illegal attachments")
        {"_placeholder": True, "num": True},  # a bool is not an index
        {"_placeholder": True, "num": 0.0},
        {"_placeholder": True, "num": [0]},
        {"_placeholder": True, "num": 0, "extra": 1},
    ],
)
def test_placeholder_shape_is_strict(placeholder: dict[str, Any]) -> None:
    with pytest.raises(RemoteProtocolError, match="placeholder"):
        _binary_packet(["ev", placeholder], [b"a"])


def test_unused_attachments_and_placeholder_lookalikes_are_fine() -> None:
    data = ["ev", ph(1), {"_placeholder": False, "num": 0}, {"_placeholder": 1}]
    assert _binary_packet(data, [b"a", b"b"]) == P(
        T.EVENT, "/", ["ev", b"b", {"_placeholder": False, "num": 0}, {"_placeholder": 1}]
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    "template",
    [
        '2["ev",{}]',
        '2/chat,["ev",[1,{}]]',
        "31[{}]",
        '3/chat,7["ok",{}]',
        '0{"token":{}}',
        '0/admin,{"n":{}}',
        '4{"message":"m","data":{}}',
        '51-["ev",{"_placeholder":true,"num":0},{}]',
    ],
    ids=["event", "event-ns", "ack", "ack-ns", "connect-auth", "connect-ns", "connect-error",
         "binary-event"],
)
def test_nan_and_infinity_are_refused(constant: str, template: str) -> None:
    with pytest.raises(RemoteProtocolError, match=f"{constant} is not valid JSON"):
        PacketDecoder().feed(template.replace("{}", constant, 1))


def test_a_string_that_says_nan_is_data() -> None:
    assert PacketDecoder().feed('2["ev","NaN","Infinity"]') == P(
        T.EVENT, "/", ["ev", "NaN", "Infinity"]
    )


def test_an_overflowing_number_decodes_as_javascript_does_and_fails_on_encode() -> None:
    # JSON.parse("1e999") is Infinity too; refusing it would cost a scan of every packet.
    # Echoing it back is the emitter's TypeError, as for any non-finite float.
    packet = PacketDecoder().feed('2["ev",1e999]')
    assert packet is not None and packet.data == ["ev", math.inf]
    with pytest.raises(TypeError, match="JSON"):
        encode_packet(packet)


_tricky_text = st.lists(
    st.sampled_from(['"', "\\", "[", "]", "{", "}", '\\"', "\\\\", "é", "\n", "a", "\ud800"]),
    max_size=6,
).map("".join)
_tricky_json = st.recursive(
    st.none() | st.integers() | _tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky_text, inner, max_size=3),
    max_leaves=40,
)


def _reference_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_reference_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_reference_depth, value.values()), default=0)
    return 0


@given(_tricky_json, st.booleans(), st.sampled_from([None, 0, 2]), st.integers(0, 30))
def test_json_depth_matches_the_structure(value: Any, ascii_only: bool, indent: int | None,
                                          extra: int) -> None:
    # brackets, quotes and backslashes inside strings never count; whitespace is fine
    value = nested(extra, value)
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    assert json_depth(text) == _reference_depth(value)
    assert json_too_deep(text, 10) == (_reference_depth(value) > 10)
