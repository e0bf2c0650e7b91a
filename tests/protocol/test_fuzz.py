"""No input can crash, stall or balloon the decoders or the session state machines.

Each run feeds every target ``EXAMPLES`` inputs (10,000 unless ``JSIO_FUZZ_EXAMPLES`` says
otherwise) twice over:

- seeded mutation fuzzing (:mod:`tests.protocol.fuzzing`): valid encodings with flipped,
  inserted, deleted and spliced characters/bytes and hostile values swapped in, checked by
  the target's oracle (only RemoteProtocolError / PayloadTooLarge; what decodes re-encodes
  and decodes the same; no amplification; state machine invariants);
- hypothesis, profile ``jsio-fuzz`` (``max_examples=EXAMPLES``, no deadline), for inputs of
  shapes the mutator does not make. Hypothesis takes 1-5 ms to build a structured input
  (the mutator ~20 us), so only the cheap eio packet test runs the full count; the other
  decoders run a tenth, the state machines a twentieth, and the mutator the 10,000.

Inputs per run: mutation, 10,000 each for eio packet, eio payload, sio text packet, sio
message sequence, link decoder (both sides), EngineSession, LinkServerSession and
LinkClientSession; hypothesis, 10,000 eio packets, 1,000 each for eio payload, sio text,
sio sequences and link decoder, 500 each for the three state machines. A long run:
``python -m benchmarks.fuzz --minutes 10`` (see tests/README.md).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_sio.protocol.eio_session import CloseReason, Transport
from jupyter_sio.protocol.link_codec import LinkKind
from tests.protocol import fuzzing
from tests.protocol.fuzzing import EXAMPLES, TARGETS, TOKENS, VALUES

settings.register_profile(
    "jsio-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # a fixed count per run; failures print their input
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("jsio-fuzz")
# hypothesis builds a structured input in ~1-5 ms, the mutator in ~20 us: the mutator
# carries the 10,000 of each target, hypothesis a tenth (a twentieth for op sequences)
SHAPES = settings(FUZZ, max_examples=max(1, EXAMPLES // 10))
STATE_MACHINES = settings(FUZZ, max_examples=max(1, EXAMPLES // 20))
SEED = 20261203


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutation_fuzz(name: str) -> None:
    assert fuzzing.run(TARGETS[name], EXAMPLES, SEED) == EXAMPLES


# -- hypothesis: shapes --------------------------------------------------------------------
_pieces = st.sampled_from(TOKENS + VALUES) | st.text(max_size=4)
_jsonish = st.lists(_pieces, max_size=12).map("".join)
_sio_prefix = st.sampled_from(
    ["0", "1", "2", "3", "4", "5", "6", "51-", "52-", "60-", "2/chat,", "313", "5\u00b2-", "7"]
)
_sio_text = st.builds(str.__add__, _sio_prefix, _jsonish) | st.text()
_messages = st.lists(_sio_text | st.binary(max_size=8), min_size=1, max_size=6)


@FUZZ
@given(st.text() | st.binary(max_size=16))
def test_eio_packet_decoder(message: str | bytes) -> None:
    fuzzing.check_eio_packet(message)


@SHAPES
@given(st.lists(st.sampled_from(["\x1e", "b", "4", "2", "6", "AQID", "=", "é", "\x1eb"])
                | st.text(max_size=6), max_size=10).map("".join))
def test_eio_payload_decoder(body: str) -> None:
    fuzzing.check_eio_payload(body)


@SHAPES
@given(_sio_text)
def test_sio_text_decoder(text: str) -> None:
    fuzzing.check_sio_text(text)


@SHAPES
@given(_messages)
def test_sio_message_sequences(messages: list[str | bytes]) -> None:
    fuzzing.check_sio_messages(messages)


_kinds = st.sampled_from([k.value for k in LinkKind] + ["nope", ""])
_frame = st.builds(
    lambda kind, header, payload: "\t".join([kind, header, *payload]),
    _kinds,
    st.sampled_from(['{"n":1}', '{"n":2}', "{}", '{"v":1}', '{"id":1e999}']) | _jsonish,
    st.lists(_sio_text, max_size=1),
)
_link_messages = st.lists(
    st.lists(_frame, min_size=1, max_size=3).map("\n".join) | st.binary(max_size=8),
    min_size=1,
    max_size=4,
)


@SHAPES
@given(st.booleans(), _link_messages)
def test_link_decoder(from_kernel: bool, messages: list[str | bytes]) -> None:
    fuzzing.check_link((from_kernel, messages))


_clocks = st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 200)


@STATE_MACHINES
@given(st.sampled_from(list(Transport)), st.lists(st.tuples(
    st.sampled_from(["tick", "poll", "end_poll", "probe", "abort", "probe_packet", "control",
                     "expired", "close", "deadline", "open"]),
    _clocks,
    st.sampled_from(fuzzing._PACKET_TEXTS) | st.text(max_size=4),
    st.sampled_from(list(CloseReason)),
), max_size=30))
def test_engine_session(transport: Any, ops: list[tuple[Any, ...]]) -> None:
    fuzzing.check_engine_session([("start", transport), *ops])


_link_headers = st.dictionaries(
    st.sampled_from(["v", "sid", "max_payload", "max_message", "ping_interval",
                     "ping_timeout", "rooms", "id"]),
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
    | st.lists(st.lists(st.text(max_size=2), max_size=3), max_size=2),
    max_size=8,
)


@pytest.mark.parametrize("server", [True, False], ids=["LinkServerSession", "LinkClientSession"])
@STATE_MACHINES
@given(ops=st.lists(st.tuples(
    st.sampled_from(["receive", "receive", "tick", "welcomed", "close", "timed_out",
                     "deadline", "next_id"]),
    _clocks,
    st.sampled_from(list(LinkKind)),
    _link_headers | st.builds(fuzzing.link_header, st.randoms(), st.sampled_from(list(LinkKind))),
), max_size=30))
def test_link_sessions(server: bool, ops: list[tuple[Any, ...]]) -> None:
    fuzzing.check_link_session([("start", server), *ops])
