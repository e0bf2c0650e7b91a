"""The kernel link as a user meets it: real server, real kernels, real clients.

A pending call never holds emits; errors reach the cell with their type; two notebooks
that handle the same event each answer their own browsers; a stuck subscriber makes the
emitting cell block (bounded memory) while healthy subscribers lose nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.live_server import LiveServer
from tests.peers.node_puppet import NodePuppet
from tests.peers.stalled import StalledClient

from .test_kernels_live import node_client, py_client


async def until(predicate: Any, what: str, deadline: float = 30.0) -> None:
    """Poll ``predicate`` (sync or async) until true, or fail saying ``what``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_pending_call_does_not_hold_later_emits(server: LiveServer) -> None:
    kernel = await server.start_kernel()
    try:
        await kernel.run("%load_ext jupyter_sio")
        async with NodePuppet() as puppet:
            node = await node_client(puppet, server, ["websocket"])
            await node.emit_ack("sio:subscribe", {"rooms": ["dash"]})
            await node._answer("question", [], "ignore")  # this client never answers
            await kernel.run(
                "import threading\n"
                "from jupyter_sio import AckTimeout\n"
                "outcome = []\n"
                "def ask():\n"
                "    try:\n"
                f"        sio.call('question', 1, sid={node.sid!r}, timeout=20)\n"
                "    except AckTimeout as exc:\n"
                "        outcome.append(str(exc))\n"
                "asker = threading.Thread(target=ask)\n"
                "asker.start()\n"
            )
            await kernel.run("sio.emit('tick', 1, to='dash')\nsio.emit('tick', 2, to='dash')")
            assert await node.wait_event("tick") == [1]
            assert await node.wait_event("tick") == [2]
            assert await kernel.value("asker.is_alive()") == "True"  # the call still waits
            # and a short deadline surfaces as AckTimeout, typed, naming the event
            out = await kernel.run(
                "try:\n"
                f"    sio.call('question', 2, sid={node.sid!r}, timeout=0.5)\n"
                "except AckTimeout as exc:\n"
                "    print('caught', type(exc).__name__, exc)\n"
            )
            assert "caught AckTimeout" in out.stdout and "'question'" in out.stdout
    finally:
        await kernel.stop()


async def test_errors_reach_the_cell_with_their_type_and_the_users_terms(
    server: LiveServer,
) -> None:
    kernel = await server.start_kernel()
    try:
        await kernel.run("%load_ext jupyter_sio\nimport jupyter_sio.exceptions as E")
        cases = {
            "sio.emit('x', 1, namespace='/nope')": ("UnknownNamespace", "/nope"),
            "sio.emit('x', object())": ("TypeError", "'x'"),
            "sio.emit('big', b'0' * 2_000_000)": ("PayloadTooLarge", "2,000,000 bytes"),
            "sio.call('x', sid='no-such-sid', timeout=2)": ("UnknownSocket", "no-such-sid"),
            "sio.request('nobody-handles-this')": ("HandlerError", "nobody-handles-this"),
        }
        for code, (name, detail) in cases.items():
            out = await kernel.collect(kernel.submit(code))
            assert out.error is not None, code
            assert out.error["ename"] == name, (code, out.error)
            assert detail in out.error["evalue"], (code, out.error)
    finally:
        await kernel.stop()


async def test_two_notebooks_with_the_same_event_answer_only_their_own_browsers(
    server: LiveServer,
) -> None:
    quickstart, poll_nb = await server.start_kernel(), await server.start_kernel()
    try:
        # Notebook 1: a "vote" handler of its own that raises on a dict (as notebook 01's did)
        await quickstart.run(
            "%load_ext jupyter_sio\n"
            "@sio.on('vote')\n"
            "def vote(peer, choice):\n"
            "    return {'thanks': peer.user, 'choice': {choice: 1}}\n"
        )
        # Notebook 2, started later: a poll, whose widget sockets name their kernel
        await poll_nb.run(
            "%load_ext jupyter_sio\n"
            "from jupyter_sio.widgets import start_poll\n"
            "poll = start_poll(sio, 'study', 'Which transport?', ['websocket', 'polling'])\n"
        )
        poll_kernel = (await poll_nb.value("sio.status()['kernel']")).strip("'")
        quick_kernel = (await quickstart.value("sio.status()['kernel']")).strip("'")
        # the newest plain registration is the poll's; re-registering makes the quickstart newest
        await quickstart.run("sio.on('vote', vote)")
        pollster = await py_client(server, ["websocket"])
        other = await py_client(server, ["websocket"])
        try:
            answer = await pollster.call(
                "sio:subscribe", {"rooms": ["study"], "kernel": poll_kernel}, timeout=10)
            assert answer["ok"]
            poll_id = (await poll_nb.value("poll.id")).strip("'")
            for _ in range(3):
                reply = await pollster.call("vote", {"poll": poll_id, "choice": 1}, timeout=10)
                assert reply["ok"] is True and reply["total"] == 1
            assert await poll_nb.value("poll.tally()") == "{'websocket': 0, 'polling': 1}"
            # a browser bound to the quickstart's kernel gets the quickstart's handler, and its
            # exception (a dict is unhashable) answers only that browser, with its type
            await other.call("sio:subscribe", {"rooms": ["lobby"], "kernel": quick_kernel},
                             timeout=10)
            failed = await other.call("vote", {"poll": poll_id, "choice": 0}, timeout=10)
            assert failed["error"] == "TypeError" and "unhashable" in failed["message"]
            assert await poll_nb.value("poll.tally()") == "{'websocket': 0, 'polling': 1}"
        finally:
            await pollster.disconnect()
            await other.disconnect()
    finally:
        await quickstart.stop()
        await poll_nb.stop()


async def test_room_scoped_handlers_take_events_from_their_rooms(server: LiveServer) -> None:
    a, b = await server.start_kernel(), await server.start_kernel()
    try:
        await a.run("%load_ext jupyter_sio\n"
                    "sio.on('who', lambda peer: 'a', room='team-a')")
        await b.run("%load_ext jupyter_sio\nsio.on('who', lambda peer: 'b')")
        member = await py_client(server, ["websocket"])
        outsider = await py_client(server, ["websocket"])
        try:
            await member.call("sio:subscribe", {"rooms": ["team-a"]}, timeout=10)
            assert await member.call("who", timeout=10) == "a"
            assert await outsider.call("who", timeout=10) == "b"
        finally:
            await member.disconnect()
            await outsider.disconnect()
    finally:
        await a.stop()
        await b.stop()


async def stalled_subscriber(server: LiveServer, room: str) -> StalledClient:
    """A subscriber of ``room`` that then stops reading."""
    path = f"{server.socketio_path}?EIO=4&transport=websocket&token={server.token}"
    client = await StalledClient.connect(server.port, path)
    client.send(f'421["sio:subscribe",{{"rooms":["{room}"]}}]')
    while not (await client.read()).startswith("431"):
        pass
    return client


@pytest.fixture
async def tight_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = await LiveServer(tmp_path, sio_config={
        "max_buffer_packets": 64, "max_buffer_bytes": 256 * 1024, "send_timeout": 3.0,
    }).start()
    try:
        yield live
    finally:
        await live.stop()


async def test_a_stuck_subscriber_blocks_the_cell_not_the_room(tight_server: LiveServer) -> None:
    server = tight_server
    kernel = await server.start_kernel()
    healthy = await py_client(server, ["websocket"])
    got: list[int] = []
    healthy.on("tick", lambda i, _pad: got.append(i))
    try:
        await healthy.call("sio:subscribe", {"rooms": ["flood"]}, timeout=10)
        await kernel.run("%load_ext jupyter_sio\nsio.configure(buffer_packets=500)")
        stuck = await stalled_subscriber(server, "flood")
        n = 20_000
        # The hub pauses the link while the stuck client's buffer is full; the kernel's
        # bounded buffer fills and the cell waits, until the hub drops the stuck client.
        out = await kernel.run(
            f"for i in range({n}):\n    sio.emit('tick', i, 'x' * 2000, to='flood')\n"
            "print('blocked', sio.status()['link']['blocked'])\n", timeout=120,
        )
        assert out.error is None, out.text
        assert int(out.stdout.split("blocked")[1]) > 0  # the cell did wait for room
        assert await stuck.closed_by_server()  # one slow client cannot stall a room
        await until(lambda: len(got) >= n, "every tick at the healthy subscriber", 120)
        assert got == list(range(n))  # nothing lost, in order

        # With a deadline shorter than the hub's, the cell gets BufferFull instead.
        stuck = await stalled_subscriber(server, "flood")
        out = await kernel.collect(kernel.submit(
            "sio.configure(send_timeout=0.5)\n"
            "for i in range(200_000):\n    sio.emit('tick', i, 'x' * 2000, to='flood')\n"
        ), timeout=120)
        assert out.error is not None and out.error["ename"] == "BufferFull", out.text
        assert "send_timeout" in out.error["evalue"]
        stuck.close()
    finally:
        await healthy.disconnect()
        await kernel.stop()


async def test_script_client_link_with_the_server_token(server: LiveServer) -> None:
    """``jupyter_sio.connect(url, token)`` from a script: the same link and powers."""
    import jupyter_sio

    sio = await asyncio.to_thread(jupyter_sio.connect, server.sio_base, server.token)
    client: socketio.AsyncClient = await py_client(server, ["websocket"])
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("note", lambda x: got.put_nowait(x))
    try:
        await client.call("sio:subscribe", {"rooms": ["r"]}, timeout=10)
        await asyncio.to_thread(sio.emit, "note", "from a script", to="r")
        assert await asyncio.wait_for(got.get(), 10) == "from a script"
    finally:
        await client.disconnect()
        await asyncio.to_thread(sio.close)
