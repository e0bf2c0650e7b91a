"""Seeded mutation fuzzing of the sans-IO core: the targets, their oracles, the mutators.

Shared by ``tests/protocol/test_fuzz.py`` (10,000 inputs per target per test run) and
``benchmarks/fuzz.py`` (a long run). Every target takes one input, feeds it to a decoder or
a state machine and checks the contract of the hardening issue: the only exceptions are the
documented protocol errors (:class:`RemoteProtocolError`, :class:`PayloadTooLarge`), what
decodes encodes again and decodes to the same value, and state machines keep their
invariants. Anything else (``RecursionError``, ``OverflowError``, a failed invariant)
propagates as :class:`FuzzFailure`, which names the target, the seed, the input number and
the input itself, so ``run(target, n, seed)`` reproduces it.

Inputs start from valid encodings built by a seeded generator (the corpus) and are mutated:
characters or bytes flipped, tokens inserted (``NaN``, ``1e999``, placeholders, 120 open
brackets, record separators...), ranges deleted, duplicated or spliced from another input.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyter_sio.config import HubConfig
from jupyter_sio.exceptions import PayloadTooLarge, RemoteProtocolError
from jupyter_sio.protocol.eio_codec import (
    EnginePacket,
    EnginePacketType,
    decode_packet,
    decode_payload,
    encode_payload,
)
from jupyter_sio.protocol.eio_session import (
    Closed,
    CloseReason,
    EngineSession,
    Heartbeat,
    SessionState,
    Transport,
)
from jupyter_sio.protocol.link_codec import (
    FROM_HUB,
    FROM_KERNEL,
    LinkDecoder,
    LinkFrame,
    LinkKind,
    encode_frame,
    join_frames,
)
from jupyter_sio.protocol.link_session import (
    LinkClientSession,
    LinkHeartbeat,
    LinkServerSession,
    LinkState,
    Welcome,
)
from jupyter_sio.protocol.sio_codec import (
    MAX_DEPTH,
    PacketDecoder,
    SocketPacket,
    SocketPacketType,
    encode_packet,
)

#: Inputs per target in one test run; ``JSIO_FUZZ_EXAMPLES=1000000`` for a long one.
EXAMPLES = int(os.environ.get("JSIO_FUZZ_EXAMPLES", "10000"))
ALLOWED = (RemoteProtocolError, PayloadTooLarge)

Message = str | bytes


class FuzzFailure(AssertionError):
    """An input broke the contract; the message says how to reproduce it."""


@dataclass(frozen=True)
class Target:
    """One thing to fuzz: a corpus of valid inputs, how to mutate one, and the oracle."""

    name: str
    corpus: Callable[[random.Random], list[Any]]
    mutate: Callable[[random.Random, Any, list[Any]], Any]
    check: Callable[[Any], None]


def run(target: Target, count: int, seed: int) -> int:
    """Check ``count`` inputs of ``target`` (about one in 20 unmutated); returns ``count``."""
    rng = random.Random(seed)
    corpus = target.corpus(rng)
    for index in range(count):
        case = rng.choice(corpus)
        if rng.random() > 0.05:
            case = target.mutate(rng, case, corpus)
        try:
            target.check(case)
        except Exception as exc:
            raise FuzzFailure(
                f"{target.name}: input {index} of seed {seed} raised {exc!r:.300}; "
                f"input: {case!r:.800}"
            ) from exc
    return count


# -- mutators ----------------------------------------------------------------------------
TOKENS = (
    *'[]{}",:-.0123456789etruflsn \\/',
    "NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" * 400, "0.5", "true", "null",
    '{"_placeholder":true,"num":0}', '{"_placeholder":true,"num":1}', '{"_placeholder":true}',
    '"_placeholder"', '"num":', "[" * 120, '{"a":' * 60, "]" * 50, "[" * 3000,
    "\x1e", "b", "bAQID", "\t", "\n", "5", "51-", "62-", "2/ns,", "/", ",", "-",
    "\\u0000", "\\ud800", "\\\\", '\\"', "\ud800", "\x00", "é", "😀", "\u0662", "²",
    '{"n":1}', '{"n":2}', '{"v":1}', "emit\t", "hello\t", "welcome\t", "probe", "2probe",
)
#: What a JSON scalar may be swapped for: the values the hardening issue is about.
VALUES = (
    "NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1e15", '"x"', "{}", "[]", "true",
    '{"_placeholder":true,"num":0}', '{"_placeholder":true,"num":1}',
    '{"_placeholder":true,"num":0,"x":1}', '{"_placeholder":true,"num":true}',
    "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2),
    "[" * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1),
    '{"a":' * 600 + "1" + "}" * 600,
)
_SCALAR = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null")
_BYTES = (b"\x00", b"\xff", b"{", b"[", b'"', b"\x1e", b"\n", b"\t", b"\xf0\x9f")


def mutate_text(rng: random.Random, text: str, others: list[str]) -> str:
    """One to four random edits of ``text`` (mostly one: more rarely parse at all)."""
    for _ in range(rng.choice((1, 1, 1, 2, 3, 4))):
        size = len(text)
        at = rng.randint(0, size)
        op = rng.randrange(8)
        if op == 7 and rng.random() < 0.7:  # swap a JSON scalar for a hostile value
            scalars = [m.span() for m in _SCALAR.finditer(text, 1)]
            if scalars:
                start, end = rng.choice(scalars)
                text = text[:start] + rng.choice(VALUES) + text[end:]
                continue
        if op == 0 and size:  # replace a character
            at = min(at, size - 1)
            text = text[:at] + rng.choice(TOKENS)[:1] + text[at + 1 :]
        elif op in (1, 2):  # insert a token
            text = text[:at] + rng.choice(TOKENS) + text[at:]
        elif op == 3:  # delete a range
            text = text[:at] + text[at + rng.randint(1, 8) :]
        elif op == 4:  # duplicate a range
            end = min(size, at + rng.randint(1, 16))
            text = text[:end] + text[at:end] * rng.randint(1, 3) + text[end:]
        elif op == 5:  # truncate
            text = text[:at]
        elif op == 6 and others:  # splice in a piece of another input
            other = rng.choice(others)
            if isinstance(other, str) and other:
                start = rng.randrange(len(other))
                text = text[:at] + other[start : start + rng.randint(1, 32)] + text[at:]
        else:  # a random code point
            point = rng.choice((rng.randrange(128), rng.randrange(0x110000)))
            text = text[:at] + chr(point) + text[at:]
    return text


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """One or two random edits of ``data``."""
    for _ in range(rng.randint(1, 2)):
        at = rng.randint(0, len(data))
        op = rng.randrange(4)
        if op == 0 and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
        elif op == 1:
            data = data[:at] + rng.choice(_BYTES) + data[at:]
        elif op == 2:
            data = data[:at] + data[at + rng.randint(1, 8) :]
        else:
            data = data[:at]
    return data


def mutate_message(rng: random.Random, message: Message, others: list[Any]) -> Message:
    if isinstance(message, bytes):
        return mutate_bytes(rng, message)
    return mutate_text(rng, message, [o for o in others if isinstance(o, str)])


def mutate_sequence(
    rng: random.Random, messages: list[Message], corpus: list[Any]
) -> list[Message]:
    """Edit one message, or drop, repeat, insert or swap messages."""
    messages = list(messages)
    op = rng.randrange(6)
    at = rng.randrange(len(messages)) if messages else 0
    if op <= 1 and messages:
        flat = [m for seq in corpus[:50] for m in seq]
        messages[at] = mutate_message(rng, messages[at], flat)
    elif op == 2 and messages:
        del messages[at]
    elif op == 3 and messages:
        messages.insert(at, messages[at])
    elif op == 4:
        other = rng.choice(corpus)
        messages.insert(at, rng.choice(other) if other else b"")
    elif len(messages) > 1:
        other = rng.randrange(len(messages))
        messages[at], messages[other] = messages[other], messages[at]
    return messages


# -- corpus generators -------------------------------------------------------------------
_STRINGS = ("", "a", "é😀", 'q"uote', "back\\slash", "[not]{json}", "line\nbreak", "\ud83d\ude00")


def json_value(rng: random.Random, depth: int = 0, *, binary: bool = False) -> Any:
    """A random JSON-able value, sometimes with ``bytes`` leaves."""
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        return [json_value(rng, depth + 1, binary=binary) for _ in range(rng.randrange(4))]
    if depth < 4 and roll < 0.5:
        return {
            rng.choice(_STRINGS) + str(i): json_value(rng, depth + 1, binary=binary)
            for i in range(rng.randrange(4))
        }
    if binary and roll < 0.6:
        return rng.randbytes(rng.randrange(6))
    leaf = rng.randrange(6)
    if leaf == 0:
        return rng.randint(-(2**40), 2**40)
    if leaf == 1:
        return rng.uniform(-1e6, 1e6)
    if leaf == 2:
        return rng.choice((True, False, None))
    return rng.choice(_STRINGS) + str(rng.randrange(100))


def socket_packet(rng: random.Random, *, binary: bool = True) -> SocketPacket:
    """A random valid packet of any type."""
    T = SocketPacketType
    namespace = rng.choice(("/", "/chat", "/a/b", "/é"))
    kind = rng.randrange(5)
    args = [json_value(rng, 1, binary=binary) for _ in range(rng.randrange(4))]
    ack = rng.choice((None, rng.randrange(10**6)))
    if kind == 0:
        return SocketPacket(T.EVENT, namespace, [rng.choice(("ev", "chat", "é")), *args], ack)
    if kind == 1:
        return SocketPacket(T.ACK, namespace, args, rng.randrange(10**6))
    if kind == 2:
        auth = rng.choice((None, {"token": "t", "n": rng.randrange(9)}))
        return SocketPacket(T.CONNECT, namespace, auth)
    if kind == 3:
        data = [json_value(rng, 2) for _ in range(rng.randrange(3))]
        return SocketPacket(T.CONNECT_ERROR, namespace, {"message": "no", "data": data})
    return SocketPacket(T.DISCONNECT, namespace)


def _messages_of(packet: SocketPacket) -> list[Message]:
    text, attachments = encode_packet(packet)
    return [text, *attachments]


def _link_header(rng: random.Random, count: int) -> dict[str, Any]:
    header: dict[str, Any] = {}
    for key in rng.sample(("ns", "to", "ex", "id", "sid", "at", "v", "k", "r", "rooms"), 3):
        header[key] = json_value(rng, 2)
    if count:
        header["n"] = count
    return header


def link_message(rng: random.Random, kinds: frozenset[LinkKind]) -> list[Message]:
    """One link text message of a few frames, the last one maybe with attachments."""
    frames, attachments = [], []
    names = sorted(kinds, key=lambda k: k.value)
    for index in range(rng.randint(1, 3)):
        packet = socket_packet(rng, binary=index == 0)
        text, blobs = encode_packet(packet)
        if blobs and rng.random() < 0.5:
            frames = [encode_frame(rng.choice(names), _link_header(rng, len(blobs)), text)]
            attachments = blobs
            break
        frames.insert(0, encode_frame(rng.choice(names), _link_header(rng, 0), text
                                      if not blobs else None))
    return [join_frames(frames), *attachments]


# -- oracles -----------------------------------------------------------------------------
def _swallow(call: Callable[[], Any]) -> Any:
    """``call()``, or None when it raised one of the documented protocol errors."""
    try:
        return call()
    except ALLOWED:
        return None


def check_eio_packet(message: Message) -> None:
    packet = _swallow(lambda: decode_packet(message))
    if packet is not None:
        assert packet.encode() == message  # text packets are exact; binary is the bytes


def check_eio_payload(body: str) -> None:
    packets = _swallow(lambda: decode_payload(body))
    if packets is not None:
        assert packets and all(isinstance(p, EnginePacket) for p in packets)
        again = encode_payload([p.encode() for p in packets])
        assert decode_payload(again) == packets


def _re_encodes(packet: SocketPacket) -> list[Message]:
    """What decoded encodes again and decodes to the same packet; returns the messages."""
    try:
        messages = _messages_of(packet)
    except TypeError as exc:
        # Only an overflowing number may fail ("1e999" is infinity, as with JSON.parse);
        # NaN and Infinity never get this far, deep data never decodes.
        assert "Out of range float" in str(exc), exc
        floats = [v for v in _leaves(packet.data) if isinstance(v, float)]
        assert any(map(math.isinf, floats)) and not any(map(math.isnan, floats)), exc
        return []
    assert _assemble(messages) == packet
    return messages


def _leaves(data: Any) -> list[Any]:
    """Every leaf of decoded (so at most MAX_DEPTH deep) data."""
    if isinstance(data, list):
        return [leaf for item in data for leaf in _leaves(item)]
    if isinstance(data, dict):
        return [leaf for item in data.values() for leaf in _leaves(item)]
    return [data]


def _assemble(messages: list[Message]) -> SocketPacket | None:
    decoder = PacketDecoder(max_attachments=len(messages), max_bytes=1 << 24)
    result = None
    for message in messages:
        result = decoder.feed(message)
    return result


def check_sio_text(text: str) -> None:
    decoder = PacketDecoder()
    packet = _swallow(lambda: decoder.feed(text))
    if packet is not None:
        _re_encodes(packet)


def check_sio_messages(messages: list[Message]) -> None:
    """A connection's stream: stops at the first protocol error, as the hub closes then.

    No amplification: a packet's attachments encode again to at most the bytes that arrived
    (a duplicated placeholder made 2,000 copies), its text to at most 5 times (``1e15`` is
    written ``1000000000000000.0``).
    """
    decoder = PacketDecoder(max_attachments=4, max_bytes=4096)
    text_in = binary_in = 0
    for message in messages:
        try:
            packet = decoder.feed(message)
        except ALLOWED:
            return
        if isinstance(message, str):
            text_in += len(message.encode("utf-8", "surrogatepass"))
        else:
            binary_in += len(message)
        if packet is not None:
            again = _re_encodes(packet)
            if again:
                text_out = len(str(again[0]).encode("utf-8", "surrogatepass"))
                assert text_out <= 5 * text_in + 64, f"{text_in} bytes re-encode to {text_out}"
                assert sum(map(len, again[1:])) <= binary_in, "attachments multiplied"
            text_in = binary_in = 0


def check_link(case: tuple[bool, list[Message]]) -> None:
    from_kernel, messages = case
    decoder = LinkDecoder(FROM_KERNEL if from_kernel else FROM_HUB, max_attachments=4,
                          max_bytes=4096, max_frames=8)
    for message in messages:
        try:
            frames = decoder.feed(message)
        except ALLOWED:
            return
        for frame in frames:
            assert frame.kind in decoder.accept and isinstance(frame.header, dict)
            assert len(frame.attachments) == (frame.header.get("n") or 0)
            if not frame.attachments:  # encodes again to a frame that decodes the same
                text = encode_frame(frame.kind, frame.header, frame.payload)
                [again] = LinkDecoder(decoder.accept).feed(text)
                assert (again.kind, again.header, again.payload) == (
                    frame.kind, frame.header, frame.payload)


# -- state machines: a case is a list of operations --------------------------------------
_CONFIG = HubConfig(ping_interval=25, ping_timeout=20, upgrade_timeout=10)
_PACKET_TEXTS = ("2", "2probe", "3", "3probe", "1", "5", "6", "4x", "0", "0{}", "2x", "5x")


def clock(rng: random.Random, now: float) -> float:
    """The next ``now``: mostly forward, sometimes back, huge, negative or not a number."""
    roll = rng.random()
    if roll < 0.8:
        return now + rng.choice((0.0, 0.001, 1.0, 5.0, 19.99, 20.0, 25.0, 45.0, 100.0))
    if roll < 0.9:
        return now - rng.uniform(0, 50)
    return rng.choice((0.0, -1e9, 1e18, math.inf, -math.inf, math.nan, 2**62 + 0.5))


def engine_ops(rng: random.Random) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = [("start", rng.choice(list(Transport)))]
    now = 0.0
    for _ in range(rng.randint(1, 24)):
        now = clock(rng, now)
        name = rng.choice(("tick", "tick", "poll", "end_poll", "probe", "abort", "probe_packet",
                           "control", "control", "expired", "close", "deadline", "open"))
        text = rng.choice(_PACKET_TEXTS)
        ops.append((name, now, text, rng.choice(list(CloseReason))))
    return ops


def mutate_ops(rng: random.Random, ops: list[tuple[Any, ...]], corpus: list[Any]
               ) -> list[tuple[Any, ...]]:
    ops = list(ops)
    at = rng.randrange(1, len(ops)) if len(ops) > 1 else 1
    roll = rng.random()
    if roll < 0.3 and len(ops) > 1:
        del ops[at]
    elif roll < 0.6:
        ops.insert(at, rng.choice(rng.choice(corpus)[1:] or ops))
    elif len(ops) > 1:  # mutate the packet text of one operation
        name, now, text, *rest = ops[at]
        ops[at] = (name, now, mutate_text(rng, text, list(_PACKET_TEXTS)), *rest)
    return ops


def check_engine_session(ops: list[tuple[Any, ...]]) -> None:
    session = EngineSession("sid", _CONFIG, ops[0][1], 0.0)
    closed_events = 0
    for name, now, text, reason in ops[1:]:
        was_closed = session.closed
        result: Any = None
        try:
            if name == "tick":
                result = session.tick(now)
                assert isinstance(result, Heartbeat)
                assert (result is Heartbeat.TIMED_OUT) <= session.closed
            elif name == "poll":
                session.begin_poll()
            elif name == "end_poll":
                session.end_poll()
            elif name == "probe":
                session.begin_probe(now)
            elif name == "abort":
                session.abort_probe()
            elif name == "probe_packet":
                packet = _decoded(text) or EnginePacket(EnginePacketType.NOOP)
                result = session.receive_probe(packet)
            elif name == "control":
                control = _decoded(text)
                if control is not None:
                    result = session.receive_control(control, now)
            elif name == "expired":
                assert isinstance(session.probe_expired(now), bool)
            elif name == "close":
                result = session.close(reason)
            elif name == "deadline":
                float(session.deadline)
            else:
                assert session.open_packet().startswith('0{"sid":"sid"')
        except RemoteProtocolError:
            pass
        closed_events += isinstance(result, Closed) or result is Heartbeat.TIMED_OUT
        _engine_invariants(session, was_closed)
    assert closed_events <= 1


def _decoded(text: str) -> EnginePacket | None:
    try:
        return decode_packet(text)
    except RemoteProtocolError:
        return None


def _engine_invariants(session: EngineSession, was_closed: bool) -> None:
    assert session.closed == (session.state is SessionState.CLOSED)
    assert (session.close_reason is not None) == session.closed
    assert session.closed or not was_closed  # closed for good
    if session.closed:
        assert session.pong_deadline is None and session.probe_deadline is None
    if session.state is SessionState.UPGRADING:
        assert session.transport is Transport.POLLING and session.probe_deadline is not None


_WELCOME = Welcome("s", 1000, 2000, 5.0, 3.0, (("/", "r"),)).header()
_ODD: tuple[Any, ...] = (math.nan, math.inf, -1, 0, True, "5", None, [], {}, 10**30, 2.5)


def link_header(rng: random.Random, kind: LinkKind) -> dict[str, Any]:
    """Headers that matter to the sessions (hello's version, welcome's fields), often odd."""
    if kind is LinkKind.HELLO:
        return {"v": rng.choice((1, 1, 1, *_ODD))}
    if kind is LinkKind.WELCOME:
        header = dict(_WELCOME)
        if rng.random() < 0.5:
            key = rng.choice(sorted(header))
            if rng.random() < 0.2:
                del header[key]
            else:
                header[key] = rng.choice(_ODD)
        return header
    return {"id": rng.randrange(5)} if rng.random() < 0.5 else {}


def link_ops(rng: random.Random, server: bool) -> list[tuple[Any, ...]]:
    kinds = sorted(LinkKind, key=lambda k: k.value)
    ops: list[tuple[Any, ...]] = [("start", server)]
    now = 0.0
    for _ in range(rng.randint(1, 24)):
        now = clock(rng, now)
        kind = rng.choice((LinkKind.HELLO, LinkKind.WELCOME, *kinds))
        name = rng.choice(("receive", "receive", "receive", "tick", "welcomed", "close",
                           "timed_out", "deadline", "next_id"))
        ops.append((name, now, kind, link_header(rng, kind)))
    return ops


def mutate_link_ops(rng: random.Random, ops: list[tuple[Any, ...]], corpus: list[Any]
                    ) -> list[tuple[Any, ...]]:
    ops = list(ops)
    at = rng.randrange(1, len(ops)) if len(ops) > 1 else 1
    if rng.random() < 0.4 and len(ops) > 1:
        del ops[at]
    else:
        ops.insert(at, rng.choice(rng.choice(corpus)[1:] or ops))
    return ops


def check_link_session(ops: list[tuple[Any, ...]]) -> None:
    server = bool(ops[0][1])
    session: LinkServerSession | LinkClientSession = (
        LinkServerSession(5.0, 3.0, now=0.0) if server else LinkClientSession(now=0.0))
    welcomed = False  # the hub calls welcomed() once it answered a hello
    for name, now, kind, header in ops[1:]:
        was = session.state
        try:
            if name == "receive":
                result = session.receive(LinkFrame(kind, header), now)
                if isinstance(session, LinkClientSession) and result is not None:
                    assert isinstance(result, Welcome) and session.open
            elif name == "tick" and isinstance(session, LinkServerSession):
                beat = session.tick(now)
                assert (beat is LinkHeartbeat.TIMED_OUT) <= (session.state is LinkState.CLOSED)
            elif name == "welcomed" and isinstance(session, LinkServerSession):
                session.welcomed()
                welcomed = True
            elif name == "close":
                session.close("test")
            elif name == "timed_out" and isinstance(session, LinkClientSession):
                assert isinstance(session.timed_out(now), bool)
            elif name == "deadline":
                _ = session.deadline
            elif name == "next_id":
                assert session.next_id() > 0
        except RemoteProtocolError:
            pass
        state = session.state
        assert was is not LinkState.CLOSED or state is LinkState.CLOSED
        assert (session.close_reason is not None) == (state is LinkState.CLOSED)
        if isinstance(session, LinkServerSession):
            assert state is not LinkState.OPEN or welcomed
        elif state is LinkState.OPEN:
            assert session.welcome is not None


# -- the targets -------------------------------------------------------------------------
def _eio_corpus(rng: random.Random) -> list[Message]:
    texts = [EnginePacket(t, rng.choice(("", "probe", "x", "é"))).encode() for t in
             EnginePacketType for _ in range(3)]
    return [*texts, *(rng.randbytes(rng.randrange(9)) for _ in range(10))]


def _payload_corpus(rng: random.Random) -> list[str]:
    out = []
    for _ in range(60):
        parts: list[Message] = []
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.3:
                parts.append(rng.randbytes(rng.randrange(9)))
            else:
                packet = socket_packet(rng, binary=False)
                parts.append("4" + encode_packet(packet)[0])
        out.append(encode_payload(parts))
    return out


def _sio_text_corpus(rng: random.Random) -> list[str]:
    texts = [encode_packet(socket_packet(rng, binary=False))[0] for _ in range(150)]
    deep = '2["ev",' + "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2) + "]"
    return [*texts, deep, '2["ev",' + '{"a":[' * 49 + "1" + "]}" * 49 + "]"]


def _sio_messages_corpus(rng: random.Random) -> list[list[Message]]:
    out: list[list[Message]] = []
    for _ in range(100):
        messages: list[Message] = []
        for _ in range(rng.randint(1, 3)):
            messages += _messages_of(socket_packet(rng))
        out.append(messages)
    placeholder = '{"_placeholder":true,"num":0}'
    deep = "[" * (MAX_DEPTH - 3) + placeholder + "]" * (MAX_DEPTH - 3)
    out.append([f'51-["ev",{deep}]', b"x"])
    out.append([f'52-["ev",{placeholder},{placeholder.replace("0", "1")}]', b"a" * 40, b"b"])
    return out


def _link_corpus(rng: random.Random) -> list[tuple[bool, list[Message]]]:
    out = []
    for _ in range(100):
        from_kernel = rng.random() < 0.5
        kinds = FROM_KERNEL if from_kernel else FROM_HUB
        messages = [m for _ in range(rng.randint(1, 2)) for m in link_message(rng, kinds)]
        out.append((from_kernel, messages))
    return out


def _mutate_link(rng: random.Random, case: tuple[bool, list[Message]], corpus: list[Any]
                 ) -> tuple[bool, list[Message]]:
    from_kernel, messages = case
    if rng.random() < 0.05:
        from_kernel = not from_kernel
    return from_kernel, mutate_sequence(rng, messages, [c[1] for c in corpus])


TARGETS = {
    target.name: target
    for target in (
        Target("eio_packet", _eio_corpus, mutate_message, check_eio_packet),
        Target("eio_payload", _payload_corpus, mutate_text, check_eio_payload),
        Target("sio_text", _sio_text_corpus, mutate_text, check_sio_text),
        Target("sio_messages", _sio_messages_corpus, mutate_sequence, check_sio_messages),
        Target("link_decoder", _link_corpus, _mutate_link, check_link),
        Target("engine_session", lambda rng: [engine_ops(rng) for _ in range(200)], mutate_ops,
               check_engine_session),
        Target("link_server_session", lambda rng: [link_ops(rng, True) for _ in range(200)],
               mutate_link_ops, check_link_session),
        Target("link_client_session", lambda rng: [link_ops(rng, False) for _ in range(200)],
               mutate_link_ops, check_link_session),
    )
}
