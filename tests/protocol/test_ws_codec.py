"""RFC 6455 server-side codec: parsing, fragmentation, control frames, close handshake and
every way a client can fail the connection (with the close code it gets)."""

from __future__ import annotations

import itertools
import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_sio.protocol.ws_codec import (
    CloseReceived,
    Event,
    Failed,
    State,
    UpgradeRefusal,
    WebSocketCodec,
    accept_key,
    build_frame,
    check_upgrade,
    close_frame,
    unmask,
    valid_key,
)
from tests.helpers import parse_ws_frames

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    masked: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
) -> bytes:
    """A client frame written by hand (``masked=False``/``rsv`` break the rules on purpose)."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    size = len(payload)
    bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4) if mask is None else mask
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def feed(codec: WebSocketCodec, *chunks: bytes) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events += codec.receive_data(chunk)
    return events


def failure(events: list[Event]) -> int:
    """The close code of the Failed event that must end ``events``."""
    assert events and isinstance(events[-1], Failed), events
    return events[-1].error.code


def sent(codec: WebSocketCodec) -> list[tuple[int, bytes]]:
    return parse_ws_frames(codec.data_to_send())


# A conversation exercising every length encoding, fragmentation and interleaved control.
CONVERSATION = b"".join(
    [
        client_frame(TEXT, b'42["echo","hi"]'),
        client_frame(BINARY, bytes(range(200))),  # 16-bit length
        client_frame(PING, b"p1"),
        client_frame(TEXT, "h\u00e9".encode()[:2], fin=False),  # 'é' split across frames
        client_frame(PING, b"p2"),  # a control frame between fragments
        client_frame(CONT, "h\u00e9".encode()[2:], fin=False),
        client_frame(PONG, b""),
        client_frame(CONT, b"llo"),
        client_frame(BINARY, os.urandom(70_000)),  # 64-bit length
        client_frame(TEXT, b""),
    ]
)


def expected_conversation() -> list[Event]:
    codec = WebSocketCodec(1 << 20)
    events = codec.receive_data(CONVERSATION)
    assert [e for e in events if isinstance(e, str)] == ['42["echo","hi"]', "h\u00e9llo", ""]
    assert events[1] == bytes(range(200))
    assert isinstance(events[3], bytes) and len(events[3]) == 70_000
    assert sent(codec) == [(0x80 | PONG, b"p1"), (0x80 | PONG, b"p2")]
    return events


def test_many_frames_in_one_read() -> None:
    expected_conversation()


def test_frames_split_at_every_byte_boundary() -> None:
    expected = expected_conversation()
    head = CONVERSATION[:700]  # every boundary of the small frames and the 64-bit header
    for cut in range(len(head) + 1):
        codec = WebSocketCodec(1 << 20)
        assert feed(codec, CONVERSATION[:cut], CONVERSATION[cut:]) == expected, cut
        assert len(sent(codec)) == 2


def test_one_byte_at_a_time() -> None:
    data = CONVERSATION[:600]
    codec = WebSocketCodec(1 << 20)
    events = feed(codec, *(data[i : i + 1] for i in range(len(data))))
    assert events[:3] == ['42["echo","hi"]', bytes(range(200)), "h\u00e9llo"]


@given(st.lists(st.integers(min_value=0, max_value=len(CONVERSATION)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(CONVERSATION)]
    chunks = [CONVERSATION[a:b] for a, b in itertools.pairwise(bounds)]
    codec = WebSocketCodec(1 << 20)
    assert feed(codec, *chunks) == expected_conversation()


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 767, 768, 769, 1000, 65_536])
def test_unmask_both_ways_agree_with_the_definition(size: int) -> None:
    payload, mask = os.urandom(size), os.urandom(4)
    assert unmask(payload, mask) == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_a_message_in_many_fragments() -> None:
    codec = WebSocketCodec(1 << 20)
    parts = [client_frame(BINARY, b"a", fin=False)]
    parts += [client_frame(CONT, bytes([i]), fin=False) for i in range(50)]
    parts += [client_frame(CONT, b"z")]
    assert codec.receive_data(b"".join(parts)) == [b"a" + bytes(range(50)) + b"z"]


# -- failing the connection ------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        client_frame(TEXT, b"unmasked", masked=False),
        client_frame(PING, b"", masked=False),
        client_frame(CLOSE, close_payload(1000), masked=False),
        client_frame(TEXT, b"x" * 70_000, masked=False),
        client_frame(TEXT, b"a", fin=False) + client_frame(CONT, b"b", masked=False),
    ],
    ids=["text", "ping", "close", "long", "continuation"],
)
def test_unmasked_frames_fail_with_1002(bad: bytes) -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(bad)) == 1002
    (frame,) = sent(codec)
    assert frame[0] == 0x80 | CLOSE and frame[1][:2] == struct.pack("!H", 1002)
    assert codec.state is State.CLOSED
    assert codec.receive_data(client_frame(TEXT, b"ignored")) == []  # input is discarded


@pytest.mark.parametrize("rsv", [1, 2, 4, 7])
def test_reserved_bits_fail_with_1002(rsv: int) -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(client_frame(TEXT, b"x", rsv=rsv))) == 1002


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_unknown_opcodes_fail_with_1002(opcode: int) -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(client_frame(opcode, b""))) == 1002


@pytest.mark.parametrize(
    "bad",
    [
        client_frame(PING, b"x" * 126),
        client_frame(PONG, b"x" * 126),
        client_frame(CLOSE, close_payload(1000, b"x" * 124)),
        client_frame(PING, b"", fin=False),
        client_frame(CLOSE, b"", fin=False),
    ],
    ids=["ping>125", "pong>125", "close>125", "fragmented-ping", "fragmented-close"],
)
def test_control_frame_rules(bad: bytes) -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(bad)) == 1002


def test_control_frame_of_125_bytes_is_fine() -> None:
    codec = WebSocketCodec(1 << 20)
    assert codec.receive_data(client_frame(PING, b"x" * 125)) == []
    assert sent(codec) == [(0x80 | PONG, b"x" * 125)]


def test_continuation_without_a_message_fails() -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(client_frame(CONT, b"x"))) == 1002


def test_new_message_inside_a_fragmented_one_fails() -> None:
    codec = WebSocketCodec(1 << 20)
    data = client_frame(TEXT, b"a", fin=False) + client_frame(TEXT, b"b")
    assert failure(codec.receive_data(data)) == 1002


def test_messages_before_the_failure_are_delivered() -> None:
    codec = WebSocketCodec(1 << 20)
    data = client_frame(TEXT, b"one") + client_frame(TEXT, b"two", masked=False)
    events = codec.receive_data(data)
    assert events[0] == "one" and failure(events) == 1002


# -- sizes -------------------------------------------------------------------------------------
def test_oversized_frame_fails_with_1009_on_its_header() -> None:
    codec = WebSocketCodec(1000)
    header = client_frame(BINARY, b"x" * 1001)[:8]  # length and mask only, no payload yet
    assert failure(codec.receive_data(header)) == 1009


def test_frame_of_exactly_max_message_is_accepted() -> None:
    codec = WebSocketCodec(1000)
    assert codec.receive_data(client_frame(TEXT, b"x" * 1000)) == ["x" * 1000]


def test_oversized_fragmented_message_fails_with_1009() -> None:
    codec = WebSocketCodec(1000)
    first = client_frame(TEXT, b"x" * 600, fin=False)
    assert codec.receive_data(first) == []
    assert failure(codec.receive_data(client_frame(CONT, b"x" * 401))) == 1009


def test_a_huge_length_field_fails_with_1009() -> None:
    codec = WebSocketCodec(1 << 20)
    head = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", (1 << 63) - 1)
    assert failure(codec.receive_data(head)) == 1009


@pytest.mark.parametrize("size", [1 << 63, (1 << 64) - 1])
def test_a_64_bit_length_with_its_top_bit_set_fails_with_1002(size: int) -> None:
    # RFC 6455 §5.2: "the most significant bit MUST be 0"; a protocol error, not a size.
    codec = WebSocketCodec(1 << 20)
    head = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", size)
    assert failure(codec.receive_data(head)) == 1002


@pytest.mark.parametrize(
    "head",
    [
        bytes([0x82, 0x80 | 126]) + struct.pack("!H", 0),
        bytes([0x82, 0x80 | 126]) + struct.pack("!H", 125),
        bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 0),
        bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 125),
        bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 0xFFFF),
        bytes([0x89, 0x80 | 126]) + struct.pack("!H", 5),  # a ping, too
    ],
    ids=["16-bit-0", "16-bit-125", "64-bit-0", "64-bit-125", "64-bit-65535", "ping"],
)
def test_non_minimal_length_encodings_fail_with_1002(head: bytes) -> None:
    # RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
    codec = WebSocketCodec(1 << 20)
    events = codec.receive_data(client_frame(TEXT, b"before") + head + bytes(4))
    assert events[0] == "before" and failure(events) == 1002
    assert parse_ws_frames(codec.data_to_send())[0][1][:2] == struct.pack("!H", 1002)


@pytest.mark.parametrize("size", [126, 0xFFFF, 0x10000])
def test_minimal_length_encodings_at_the_boundaries_are_accepted(size: int) -> None:
    codec = WebSocketCodec(1 << 20)
    assert codec.receive_data(client_frame(BINARY, bytes(size))) == [bytes(size)]


def test_a_large_frame_arriving_in_pieces() -> None:
    payload = os.urandom(300_000)
    data = client_frame(BINARY, payload)
    codec = WebSocketCodec(1 << 20)
    pieces = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assert feed(codec, *pieces) == [payload]


# -- UTF-8 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [b"\xff", b"\xc3", b"a\xed\xa0\x80", b"\xf4\x90\x80\x80"])
def test_invalid_utf8_text_fails_with_1007(bad: bytes) -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(client_frame(TEXT, bad))) == 1007


def test_invalid_utf8_fails_at_the_fragment_that_holds_it() -> None:
    codec = WebSocketCodec(1 << 20)
    assert codec.receive_data(client_frame(TEXT, b"ok \xe2\x82", fin=False)) == []  # valid so far
    # The next fragment breaks the 3-byte sequence: fails now, not at the final fragment.
    assert failure(codec.receive_data(client_frame(CONT, b"\x41", fin=False))) == 1007


def test_truncated_utf8_at_the_end_of_a_fragmented_message_fails() -> None:
    codec = WebSocketCodec(1 << 20)
    data = client_frame(TEXT, b"ok", fin=False) + client_frame(CONT, b"\xe2\x82")
    assert failure(codec.receive_data(data)) == 1007


def test_binary_messages_are_not_decoded() -> None:
    codec = WebSocketCodec(1 << 20)
    assert codec.receive_data(client_frame(BINARY, b"\xff\xfe")) == [b"\xff\xfe"]


# -- the close handshake -----------------------------------------------------------------------
@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 3000, 4999])
def test_client_close_is_echoed(code: int) -> None:
    codec = WebSocketCodec(1 << 20)
    events = codec.receive_data(client_frame(CLOSE, close_payload(code, b"bye")))
    assert events == [CloseReceived(code, "bye")]
    assert sent(codec) == [(0x80 | CLOSE, struct.pack("!H", code))]
    assert codec.state is State.CLOSED


def test_empty_close_is_answered_with_an_empty_close() -> None:
    codec = WebSocketCodec(1 << 20)
    assert codec.receive_data(client_frame(CLOSE, b"")) == [CloseReceived(1005, "")]
    assert sent(codec) == [(0x80 | CLOSE, b"")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_close_codes_a_client_may_not_send_fail_with_1002(code: int) -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(client_frame(CLOSE, close_payload(code)))) == 1002


def test_one_byte_close_payload_fails_with_1002() -> None:
    codec = WebSocketCodec(1 << 20)
    assert failure(codec.receive_data(client_frame(CLOSE, b"\x03"))) == 1002


def test_close_reason_must_be_utf8() -> None:
    codec = WebSocketCodec(1 << 20)
    data = client_frame(CLOSE, close_payload(1000, b"\xff"))
    assert failure(codec.receive_data(data)) == 1007


def test_server_close_then_the_clients_answer() -> None:
    codec = WebSocketCodec(1 << 20)
    frame = codec.send_close(1001, "going away")
    assert parse_ws_frames(frame) == [(0x80 | CLOSE, struct.pack("!H", 1001) + b"going away")]
    assert codec.state is State.CLOSING
    assert codec.send_close() == b""  # once
    # Until its close arrives the client may still send; pings get no pong any more.
    events = codec.receive_data(
        client_frame(TEXT, b"late") + client_frame(PING, b"") + client_frame(CLOSE, b"\x03\xe9")
    )
    assert events == ["late", CloseReceived(1001, "")]
    assert sent(codec) == []  # the handshake is complete: nothing echoed
    assert codec.state is State.CLOSED


def test_what_follows_a_close_frame_is_ignored() -> None:
    codec = WebSocketCodec(1 << 20)
    data = client_frame(CLOSE, close_payload(1000)) + client_frame(TEXT, b"after")
    assert codec.receive_data(data) == [CloseReceived(1000, "")]
    assert codec.receive_data(client_frame(TEXT, b"more")) == []


def test_close_frame_reason_is_cut_to_fit_a_control_frame() -> None:
    ((_, payload),) = parse_ws_frames(close_frame(1000, "\u00e9" * 100))
    assert len(payload) <= 125 and payload[2:].decode("utf-8") == "\u00e9" * 61


# -- handshake helpers and frame building ----------------------------------------------------
def test_accept_key_is_the_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("dGhlIHNhbXBsZSBub25jZQ==", True),
        ("", False),
        (None, False),
        ("c2hvcnQ=", False),
        ("not base64!!", False),
    ],
)
def test_valid_key(key: str | None, ok: bool) -> None:
    assert valid_key(key) is ok


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_build_frame_lengths(size: int) -> None:
    payload = bytes(size)
    assert parse_ws_frames(build_frame(PONG, payload)) == [(0x80 | PONG, payload)]


# -- the opening handshake (RFC 6455 §4.2.1) --------------------------------------------------
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE = {
    "host": "example.com",
    "upgrade": "websocket",
    "connection": "Upgrade",
    "sec-websocket-key": KEY,
    "sec-websocket-version": "13",
}


def checked(method: str = "GET", http11: bool = True, **changes: str | None) -> object:
    headers = {**UPGRADE, **{k.replace("_", "-"): v for k, v in changes.items()}}
    present = {k: v for k, v in headers.items() if v is not None}
    return check_upgrade(method, http11, present.get)


def test_a_valid_handshake_gives_its_key() -> None:
    assert checked() == KEY


@pytest.mark.parametrize(
    "changes",
    [
        {"upgrade": "WebSocket"},
        {"upgrade": "WEBSOCKET"},
        {"upgrade": "h2c, websocket"},
        {"connection": "upgrade"},
        {"connection": "UPGRADE"},
        {"connection": "keep-alive, Upgrade"},
        {"sec_websocket_version": " 13 "},
        {"sec_websocket_key": f" {KEY} "},
    ],
)
def test_tokens_are_case_insensitive_and_may_be_in_lists(changes: dict[str, str]) -> None:
    assert checked(**changes) == KEY


@pytest.mark.parametrize("version", ["8", "7", "12", "14", "", None, "13, 8"])
def test_any_version_but_13_is_answered_426_with_13(version: str | None) -> None:
    # RFC 6455 §4.4: the 426 names the version(s) the server speaks.
    refusal = checked(sec_websocket_version=version)
    assert refusal == UpgradeRefusal(426, "", (("Sec-WebSocket-Version", "13"),))


@pytest.mark.parametrize(
    ("method", "http11", "changes"),
    [
        ("POST", True, {}),
        ("GET", False, {}),
        ("GET", True, {"host": None}),
        ("GET", True, {"upgrade": None}),
        ("GET", True, {"upgrade": "websockets"}),
        ("GET", True, {"connection": None}),
        ("GET", True, {"connection": "keep-alive"}),
        ("GET", True, {"connection": "upgraded"}),
        ("GET", True, {"sec_websocket_key": None}),
        ("GET", True, {"sec_websocket_key": "c2hvcnQ="}),
        ("GET", True, {"sec_websocket_key": "not base64!!"}),
    ],
    ids=[
        "post",
        "http10",
        "no-host",
        "no-upgrade",
        "upgrade-other",
        "no-connection",
        "connection-keep-alive",
        "connection-not-a-token",
        "no-key",
        "short-key",
        "bad-key",
    ],
)
def test_a_bad_handshake_is_answered_400(
    method: str, http11: bool, changes: dict[str, str | None]
) -> None:
    refusal = checked(method, http11, **changes)
    assert isinstance(refusal, UpgradeRefusal) and refusal.status == 400 and refusal.text
