"""The kernel link's frames, without sockets: round trips, batching, attachments, limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_sio.exceptions import LocalProtocolError, PayloadTooLarge, RemoteProtocolError
from jupyter_sio.protocol.link_codec import (
    FROM_HUB,
    FROM_KERNEL,
    MAX_CACHED_HEADER,
    HeaderCache,
    LinkDecoder,
    LinkKind,
    ack_insert_offset,
    encode_frame,
    encode_header,
    join_frames,
    parse_header,
)
from jupyter_sio.protocol.sio_codec import MAX_DEPTH, SocketPacket, SocketPacketType, encode_packet

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
headers = st.dictionaries(st.text(min_size=1).filter(lambda k: k != "n"), json_values,
                          max_size=5)


@given(st.sampled_from(sorted(FROM_KERNEL, key=lambda k: k.value)), headers,
       st.none() | st.lists(json_values, max_size=4))
def test_a_frame_round_trips(kind: LinkKind, header: dict[str, Any], args: list[Any] | None
                             ) -> None:
    payload = None
    if args is not None:
        payload, _ = encode_packet(SocketPacket(SocketPacketType.EVENT, "/", ["ev", *args]))
    [frame] = LinkDecoder(FROM_KERNEL).feed(encode_frame(kind, header, payload))
    assert (frame.kind, frame.header, frame.payload) == (kind, header, payload)


@given(st.lists(st.tuples(headers, st.text().map(lambda t: t.replace("\n", " "))), min_size=1,
                max_size=20))
def test_a_batch_keeps_order(items: list[tuple[dict[str, Any], str]]) -> None:
    message = join_frames([encode_frame(LinkKind.EMIT, h, p) for h, p in items])
    frames = LinkDecoder(FROM_KERNEL).feed(message)
    assert [(f.header, f.payload) for f in frames] == [(h, p) for h, p in items]


def test_attachments_follow_the_last_frame_of_their_message() -> None:
    decoder = LinkDecoder(FROM_KERNEL)
    text, attachments = encode_packet(
        SocketPacket(SocketPacketType.EVENT, "/", ["img", b"\x00\x01", {"b": b"\xff"}])
    )
    message = join_frames(
        [encode_frame(LinkKind.JOIN, {"rooms": ["r"]}), encode_frame(LinkKind.EMIT, {"n": 2}, text)]
    )
    assert [f.kind for f in decoder.feed(message)] == [LinkKind.JOIN]
    assert decoder.waiting
    assert decoder.feed(attachments[0]) == []
    [frame] = decoder.feed(attachments[1])
    assert frame.attachments == (b"\x00\x01", b"\xff") and frame.payload == text
    assert not decoder.waiting


def test_repeated_headers_are_parsed_once() -> None:
    decoder = LinkDecoder(FROM_KERNEL)
    line = encode_frame(LinkKind.EMIT, {"ns": "/", "to": ["r"]}, '2["t",1]')
    a, b = decoder.feed(join_frames([line, line]))
    assert a.header is b.header and a.raw_header == '{"ns":"/","to":["r"]}'


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("nonsense\t{}", RemoteProtocolError),  # unknown kind
        ("welcome\t{}", RemoteProtocolError),  # a hub frame sent by a kernel
        ("emit\tnot json", RemoteProtocolError),
        ("emit\t[1,2]", RemoteProtocolError),  # header must be an object
        ('emit\t{"n":-1}\t2["x"]', RemoteProtocolError),
        ('emit\t{"n":"2"}\t2["x"]', RemoteProtocolError),
        ('emit\t{"n":1}\t52-["x"]\nemit\t{}\t2["y"]', RemoteProtocolError),  # not last
        ('emit\t{"n":5000}\t5["x"]', PayloadTooLarge),
        ("emit\t" + "[" * 100_000, RemoteProtocolError),  # deep nesting: no RecursionError
    ],
)
def test_invalid_frames_are_refused_clearly(message: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        LinkDecoder(FROM_KERNEL).feed(message)


def test_binary_without_a_frame_and_text_while_attachments_are_due() -> None:
    with pytest.raises(RemoteProtocolError):
        LinkDecoder(FROM_KERNEL).feed(b"\x00")
    decoder = LinkDecoder(FROM_KERNEL)
    decoder.feed('emit\t{"n":1}\t51-["x",{"_placeholder":true,"num":0}]')
    with pytest.raises(RemoteProtocolError):
        decoder.feed('emit\t{}\t2["y"]')


def test_limits_on_frames_and_attachment_bytes() -> None:
    with pytest.raises(PayloadTooLarge):
        LinkDecoder(FROM_KERNEL, max_frames=3).feed(join_frames(["pong\t{}"] * 4))
    decoder = LinkDecoder(FROM_KERNEL, max_bytes=10)
    decoder.feed('emit\t{"n":1}\t51-["x",{"_placeholder":true,"num":0}]')
    with pytest.raises(PayloadTooLarge):
        decoder.feed(b"x" * 11)


def test_each_side_accepts_only_the_other_sides_frames() -> None:
    assert FROM_KERNEL.isdisjoint(FROM_HUB)
    with pytest.raises(RemoteProtocolError):
        LinkDecoder(FROM_HUB).feed("emit\t{}")


def test_payloads_never_hold_a_raw_newline() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(LinkKind.EMIT, {}, "2/a\nb,[1]")


@pytest.mark.parametrize(
    ("namespace", "args"), [("/", [1]), ("/chat", ["x"]), ("/", [b"\x00"]), ("/chat", [b"1"])]
)
def test_the_hub_splices_its_ack_id_where_the_kernel_said(namespace: str, args: list[Any]
                                                          ) -> None:
    text, _ = encode_packet(SocketPacket(SocketPacketType.EVENT, namespace, ["q", *args]))
    at = ack_insert_offset(text)
    expected, _ = encode_packet(SocketPacket(SocketPacketType.EVENT, namespace, ["q", *args], 42))
    assert text[:at] + "42" + text[at:] == expected


# -- hostile headers (hardening issue) -------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        '{"id":NaN}',
        '{"timeout":Infinity}',
        '{"at":-Infinity}',
        '{"id":1e999}',  # parses as infinity: int() in a handler would raise OverflowError
        '{"timeout":-1e400}',
        '{"id":' + "9" * 30 + "}",  # float() of it overflows; header ints are 64-bit
        '{"to":[' + "[" * 200 + "]" * 200 + "]}",
    ],
    ids=["nan", "infinity", "-infinity", "1e999", "-1e400", "huge-int", "deep"],
)
def test_headers_with_nan_overflow_or_deep_nesting_are_refused(header: str) -> None:
    with pytest.raises(RemoteProtocolError, match=r"not valid JSON|out of range|deeper"):
        LinkDecoder(FROM_KERNEL).feed(f"call\t{header}\t2[\"q\"]")
    with pytest.raises(RemoteProtocolError):
        parse_header(header)


@pytest.mark.parametrize("depth", [50, 500, 5000, 100_000])
def test_header_depth_is_bounded(depth: int) -> None:
    header = '{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    if depth <= MAX_DEPTH:
        assert LinkDecoder(FROM_KERNEL).feed(f"emit\t{header}")[0].header["a"] is not None
    else:
        with pytest.raises(RemoteProtocolError):
            LinkDecoder(FROM_KERNEL).feed(f"emit\t{header}")


def test_header_numbers_in_range_are_fine() -> None:
    header = parse_header('{"id":9223372036854775807,"n":-9223372036854775808,"t":1.5e300}')
    assert header == {"id": 2**63 - 1, "n": -(2**63), "t": 1.5e300}


def test_deep_headers_are_a_type_error_to_encode() -> None:
    deep: list[Any] = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(TypeError, match="deeper"):
        encode_header({"a": deep})
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(TypeError, match="link header cannot be encoded"):
        encode_header({"a": deep})  # the C encoder's RecursionError, as a TypeError


def test_only_small_headers_are_cached() -> None:
    cache = HeaderCache(size=4)
    small, big = '{"to":["r"]}', '{"to":["' + "r" * MAX_CACHED_HEADER + '"]}'
    assert cache.parse(small) is cache.parse(small)
    assert cache.parse(big) == cache.parse(big)
    assert cache.parse(big) is not cache.parse(big)  # parsed again: never held
    for index in range(10):
        cache.parse(f'{{"to":["{index}"]}}')
    assert len(cache._parsed) <= 4


def test_frame_count_is_checked_before_splitting() -> None:
    with pytest.raises(PayloadTooLarge, match="1000001 frames"):
        LinkDecoder(FROM_KERNEL).feed("\n" * 1_000_000)
