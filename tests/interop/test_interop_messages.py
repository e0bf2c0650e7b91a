"""Events, acks (both directions), binary payloads and volatile events."""

from __future__ import annotations

import pytest

from tests.peers.common import ALL_ARGS, ARG

# one event loop for the session: the Node puppet lives on it
pytestmark = pytest.mark.asyncio(loop_scope="session")


def blob(n: int) -> bytes:
    return bytes(i % 256 for i in range(n))


JSON_ARGS = [
    [1],
    ["two", 3.5, True, None],
    [{"a": [1, {"b": "c"}], "empty": {}, "list": []}],
    ['héllo ☃ \u2028 "quoted" \\ slash', -0.25, 10**15],
    [[1, 2, 3], {"nested": {"deep": [[[]]]}}],
]


@pytest.mark.parametrize("args", JSON_ARGS, ids=[f"json{i}" for i in range(len(JSON_ARGS))])
async def test_echo_json(peers, client_kind, transport, args):
    a = await peers.client(client_kind)
    assert await a.emit_ack("echo", *args) == args


async def test_echo_no_args(peers, client_kind, transport):
    a = await peers.client(client_kind)
    assert await a.emit_ack("echo") == []


BINARY_ARGS = [
    [b"\x00\x01\x02\xff"],
    [b""],
    [b"first", "text", b"second"],
    [{"blob": b"\x00" * 10, "list": [b"\x01", {"deeper": [b"\x02\x03", "x"]}], "n": 1}],
    [blob(70_000)],
    [[b"a", [b"b", [b"c", [b"d"]]]], {"k": b"v"}],
]


@pytest.mark.parametrize("args", BINARY_ARGS, ids=[f"bin{i}" for i in range(len(BINARY_ARGS))])
async def test_echo_binary(peers, client_kind, transport, args):
    a = await peers.client(client_kind)
    assert await a.emit_ack("echo", *args) == args


async def test_echo_large_payload_under_limit(peers, client_kind, transport):
    """Well under the 1 MB max payload, even base64-encoded over polling."""
    a = await peers.client(client_kind)
    big = blob(500_000)
    text = "x" * 300_000
    assert await a.emit_ack("echo", big, text) == [big, text]


async def test_many_acks_in_flight(peers, client_kind, transport):
    import asyncio

    a = await peers.client(client_kind)
    # python-engineio's polling client refuses a payload of more than 16 packets
    # (engineio.payload.Payload.max_decode_packets), and a binary ack is 2 packets:
    # the reference server batches whatever is queued, so keep the python client under it.
    n = 40 if client_kind == "node" else 6
    results = await asyncio.gather(*(a.emit_ack("echo", i, b"%d" % i) for i in range(n)))
    assert results == [[i, b"%d" % i] for i in range(n)]


async def test_server_to_client_ack(peers, client_kind, transport):
    a = await peers.client(client_kind)
    await a.answer("question", [{"echo": ARG(0)}])
    payload = {"q": "life", "n": [4, 2], "bin": b"\x00\x2a"}
    assert await a.call("ask", payload) == {"answer": {"echo": payload}}
    assert await a.wait_event("question") == [payload]
    # and again, with a different answer
    await a.answer("question", [ALL_ARGS, "extra"])
    assert await a.call("ask", "again") == {"answer": ["again"]}


async def test_server_to_client_ack_binary_answer(peers, client_kind, transport):
    a = await peers.client(client_kind)
    await a.answer("question", [b"\x00\x01\x02\xff"])
    assert await a.call("ask", 1) == {"answer": b"\x00\x01\x02\xff"}


@pytest.mark.parametrize("transport", ["websocket"])
async def test_server_to_client_ack_timeout(peers, transport):
    """The client never answers "question": the server's 5 s ack timeout answers."""
    a = await peers.node("/")
    await a.answer("question", mode="ignore")
    assert await a.call("ask", "anyone?", timeout=20) == {"error": "timeout"}
    assert await a.wait_event("question") == ["anyone?"]
    # the connection is fine afterwards, and a late answer is not expected
    await a.answer("question", [ARG(0)])
    assert await a.call("ask", "now") == {"answer": "now"}


@pytest.mark.parametrize("n", [0, 1, 5, 300, 1000])
async def test_binary_server_to_client(peers, client_kind, transport, n):
    a = await peers.client(client_kind)
    assert await a.emit_ack("make_binary", n) == [blob(n)]
    [bin_event] = await a.wait_event("bin")
    assert bin_event == {"blob": blob(n), "list": [b"\x01\x02", "text", b"\xff"]}


async def test_volatile(peers, client_kind, transport):
    a = await peers.client(client_kind)
    await a.wait_event("welcome")
    await a.barrier()  # nothing in flight: the transport is writable
    assert await a.emit_ack("volatile", 5) == ["done"]
    [first] = await a.wait_event("v")
    await a.barrier()
    got = [args for args in a.events("v")]
    assert all(len(args) == 1 for args in got), got
    values = [args[0] for args in got]
    assert values[0] == first
    # at least one, each an index 0..n-1, in order, no duplicate
    assert values == sorted(set(values)) and set(values) <= set(range(5)), values
