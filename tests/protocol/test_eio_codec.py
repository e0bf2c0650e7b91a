"""Engine.IO v4 packets and long-polling payloads (spec: engine-io-protocol, "Packet encoding")."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_sio.exceptions import RemoteProtocolError
from jupyter_sio.protocol.eio_codec import (
    RECORD_SEPARATOR,
    EnginePacket,
    EnginePacketType,
    decode_packet,
    decode_payload,
    encode_payload,
    encode_payload_part,
)

T = EnginePacketType


@pytest.mark.parametrize(
    ("packet", "wire"),
    [
        (EnginePacket(T.OPEN, '{"sid":"abc"}'), '0{"sid":"abc"}'),
        (EnginePacket(T.CLOSE), "1"),
        (EnginePacket(T.PING), "2"),
        (EnginePacket(T.PING, "probe"), "2probe"),
        (EnginePacket(T.PONG), "3"),
        (EnginePacket(T.PONG, "probe"), "3probe"),
        (EnginePacket(T.MESSAGE, "hello"), "4hello"),
        (EnginePacket(T.MESSAGE, ""), "4"),
        (EnginePacket(T.MESSAGE, "é€😀"), "4é€😀"),
        (EnginePacket(T.UPGRADE), "5"),
        (EnginePacket(T.NOOP), "6"),
    ],
)
def test_text_packet_round_trip(packet: EnginePacket, wire: str) -> None:
    assert packet.encode() == wire
    assert decode_packet(wire) == packet


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02", bytes(range(256))])
def test_binary_message_is_the_raw_bytes(data: bytes) -> None:
    packet = EnginePacket(T.MESSAGE, data)
    assert packet.encode() == data  # v4: no type byte in binary frames
    assert decode_packet(data) == packet


def test_packet_types_have_their_wire_numbers() -> None:
    assert [int(t) for t in T] == list(range(7))
    assert [t.name for t in T] == ["OPEN", "CLOSE", "PING", "PONG", "MESSAGE", "UPGRADE", "NOOP"]


@pytest.mark.parametrize("message", ["", "7", "9hello", "x", "b", "-1", " 4"])
def test_invalid_packet_is_a_remote_error(message: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_packet(message)


# -- polling payloads ----------------------------------------------------------------------
def test_payload_joins_with_record_separator_and_base64() -> None:
    body = encode_payload(["4hello", b"\x01\x02\x03", "2"])
    assert body == "4hello\x1ebAQID\x1e2"
    assert decode_payload(body) == [
        EnginePacket(T.MESSAGE, "hello"),
        EnginePacket(T.MESSAGE, b"\x01\x02\x03"),
        EnginePacket(T.PING),
    ]


def test_single_packet_payload_has_no_separator() -> None:
    assert encode_payload(["4x"]) == "4x"
    assert encode_payload_part(b"\xff") == "b/w=="
    assert encode_payload_part("6") == "6"
    assert decode_payload("b/w==") == [EnginePacket(T.MESSAGE, b"\xff")]


def test_empty_binary_packet_in_payload() -> None:
    assert encode_payload([b""]) == "b"
    assert decode_payload("b") == [EnginePacket(T.MESSAGE, b"")]


@pytest.mark.parametrize(
    "body",
    [
        "",  # empty body
        "4a\x1e\x1e4b",  # empty packet between separators
        "4a\x1e",  # trailing separator
        "\x1e4a",  # leading separator
        "8hello",  # unknown type
        "4a\x1ezz",  # unknown type after a valid packet
        "b!!!!",  # not base64
        "bAQI",  # bad padding
        "bAQ ID",  # whitespace is not base64
    ],
)
def test_invalid_payload_is_a_remote_error(body: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_payload(body)


def test_payload_packet_count_is_capped() -> None:
    body = RECORD_SEPARATOR.join(["6"] * 5)
    assert len(decode_payload(body, max_packets=5)) == 5
    with pytest.raises(RemoteProtocolError, match="more than 4 packets"):
        decode_payload(body, max_packets=4)


def test_default_packet_cap() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_payload(RECORD_SEPARATOR.join(["6"] * 10_001))


# -- property: encode_payload / decode_payload round trip -----------------------------------
_text_packets = st.builds(
    EnginePacket,
    st.sampled_from(list(T)),
    st.text(alphabet=st.characters(blacklist_characters=RECORD_SEPARATOR)),
)
_binary_packets = st.builds(EnginePacket, st.just(T.MESSAGE), st.binary())


@given(st.lists(st.one_of(_text_packets, _binary_packets), min_size=1, max_size=20))
def test_payload_round_trip(packets: list[EnginePacket]) -> None:
    body = encode_payload([p.encode() for p in packets])
    assert decode_payload(body) == packets


@given(st.binary())
def test_binary_part_is_standard_base64(data: bytes) -> None:
    part = encode_payload_part(data)
    assert part[0] == "b"
    assert base64.b64decode(part[1:], validate=True) == data


# -- hostile payloads (hardening issue) ------------------------------------------------------
def test_a_body_of_separators_is_refused_before_it_is_split() -> None:
    with pytest.raises(RemoteProtocolError, match="more than 10000 packets"):
        decode_payload(RECORD_SEPARATOR * 1_000_000)


@pytest.mark.parametrize("body", ["bé", "b\ud800", "b\x00", "4a\x1eb\u0661\u0662"])
def test_non_ascii_base64_is_a_remote_error(body: str) -> None:
    with pytest.raises(RemoteProtocolError, match="base64"):
        decode_payload(body)
