"""Pre-encoded outbound packets and RFC 6455 server frames."""

from __future__ import annotations

import base64

import pytest

from jupyter_sio.protocol.eio_codec import EnginePacket, EnginePacketType, decode_payload
from jupyter_sio.protocol.frames import CLOSE, NOOP, PING, Outgoing, ws_frame
from tests.helpers import parse_ws_frames

TEXT, BINARY = 0x81, 0x82


@pytest.mark.parametrize(
    ("size", "header_len", "length_byte"),
    [
        (0, 2, 0),
        (1, 2, 1),
        (125, 2, 125),
        (126, 4, 126),
        (127, 4, 126),
        (65535, 4, 126),
        (65536, 10, 127),
        (70000, 10, 127),
    ],
)
@pytest.mark.parametrize("binary", [False, True])
def test_ws_frame_header_lengths(
    size: int, header_len: int, length_byte: int, binary: bool
) -> None:
    payload = bytes(i % 251 for i in range(size))
    frame = ws_frame(payload, binary=binary)
    assert len(frame) == header_len + size
    assert frame[0] == (BINARY if binary else TEXT)
    assert frame[1] == length_byte  # mask bit clear
    assert parse_ws_frames(frame) == [(frame[0], payload)]


def test_outgoing_ws_frame_is_text_then_binary_frames() -> None:
    out = Outgoing('451-["ev",{"_placeholder":true,"num":0}]', [b"\x00" * 200, b"z"])
    frames = parse_ws_frames(out.ws_frame)
    assert frames == [
        (TEXT, b'451-["ev",{"_placeholder":true,"num":0}]'),
        (BINARY, b"\x00" * 200),
        (BINARY, b"z"),
    ]
    assert out.ws_frame is out.ws_frame  # built once


def test_outgoing_text_frame_is_utf8() -> None:
    out = Outgoing('42["é😀"]')
    assert parse_ws_frames(out.ws_frame) == [(TEXT, '42["é😀"]'.encode())]
    assert out.size == len('42["é😀"]'.encode())


def test_poll_text_without_attachments_is_the_text() -> None:
    assert Outgoing('42["ev"]').poll_text == '42["ev"]'


def test_poll_text_joins_attachments_as_base64() -> None:
    out = Outgoing("451-x", [b"\x01\x02\x03", b""])
    assert out.poll_text == "451-x\x1ebAQID\x1eb"
    assert out.poll_text is out.poll_text
    assert decode_payload(out.poll_text) == [
        EnginePacket(EnginePacketType.MESSAGE, "51-x"),
        EnginePacket(EnginePacketType.MESSAGE, b"\x01\x02\x03"),
        EnginePacket(EnginePacketType.MESSAGE, b""),
    ]
    assert out.poll_text.split("\x1e")[1] == "b" + base64.b64encode(b"\x01\x02\x03").decode()


def test_outgoing_fields() -> None:
    out = Outgoing("4x", [b"ab", b"c"], key="k", volatile=True)
    assert out.attachments == (b"ab", b"c")
    assert out.size == 2 + 3
    assert out.key == "k"
    assert out.volatile is True
    assert "4x" in repr(out)


def test_defaults_are_reliable_and_unkeyed() -> None:
    out = Outgoing("4x")
    assert (out.key, out.volatile, out.attachments) == (None, False, ())


@pytest.mark.parametrize("text", ['42["\ud800"]', "4\udfff", '42["a\udc80b"]'])
def test_lone_surrogate_fails_at_construction(text: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        Outgoing(text)


@pytest.mark.parametrize(("packet", "wire"), [(PING, b"2"), (NOOP, b"6"), (CLOSE, b"1")])
def test_control_packets(packet: Outgoing, wire: bytes) -> None:
    assert parse_ws_frames(packet.ws_frame) == [(TEXT, wire)]
    assert packet.poll_text == wire.decode()
