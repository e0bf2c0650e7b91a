"""%load_ext jupyter_sio in a real kernel with no server extension: the embedded hub."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from tests.kernels import Kernel


@pytest.fixture
async def kernel() -> AsyncIterator[Kernel]:
    k = await Kernel().start()
    yield k
    await k.stop()


@pytest.fixture
async def loaded(kernel: Kernel) -> AsyncIterator[tuple[Kernel, str, str]]:
    out = await kernel.run("%load_ext jupyter_sio")
    assert "embedded hub" in out.stdout
    url = await kernel.value("sio.url")
    token = await kernel.value("sio.embedded.token")
    yield kernel, url, token


async def browser(url: str, token: str, transports: list[str] | None = None) -> Any:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url.rsplit("/socket.io/", 1)[0], socketio_path="socket.io",
                         headers={"Authorization": f"token {token}"},
                         transports=transports or ["websocket"], wait_timeout=10)
    return client


async def test_load_ext_reports_embedded_mode_and_keeps_the_token_out_of_outputs(
    loaded: tuple[Kernel, str, str],
) -> None:
    kernel, url, token = loaded
    assert await kernel.value("sio.mode") == "embedded"
    assert url.startswith("http://127.0.0.1:")
    status = await kernel.run("%sio")
    assert "mode=embedded" in status.stdout
    assert "link:     open" in status.stdout and "BufferFull 0" in status.stdout
    assert token not in status.stdout


async def test_cell_emit_reaches_a_client_in_the_room(loaded: tuple[Kernel, str, str]) -> None:
    kernel, url, token = loaded
    client = await browser(url, token)
    received: asyncio.Queue[Any] = asyncio.Queue()
    client.on("tick", lambda *args: received.put_nowait(args))
    assert (await client.call("sio:subscribe", {"rooms": ["dash"]}, timeout=10))["ok"]
    await kernel.run('sio.emit("tick", {"cpu": 0.5}, b"\\x01\\x02", to="dash")')
    assert await asyncio.wait_for(received.get(), 10) == ({"cpu": 0.5}, b"\x01\x02")
    await client.disconnect()


async def test_handler_in_a_cell_answers_while_another_cell_is_busy(
    loaded: tuple[Kernel, str, str],
) -> None:
    kernel, url, token = loaded
    await kernel.run(
        "import threading\n"
        "votes, started, cell_running = [], threading.Event(), False\n"
        "@sio.on('vote')\n"
        "def vote(peer, choice):\n"
        "    started.wait(10)  # the busy cell below has begun\n"
        "    votes.append((peer.user, choice))\n"
        "    return {'tally': len(votes), 'choice': choice, 'cell_running': cell_running}\n"
    )
    busy = kernel.submit(
        "import time\ncell_running = True\nstarted.set()\ntime.sleep(8)\n"
        "cell_running = False\nprint('slept')"
    )
    client = await browser(url, token, ["polling"])
    answer = await client.call("vote", "blue", timeout=20)
    # answered while the sleeping cell was still running (not queued until it ended)
    assert answer == {"tally": 1, "choice": "blue", "cell_running": True}
    busy_result = asyncio.ensure_future(kernel.collect(busy))
    assert "slept" in (await busy_result).stdout
    await client.disconnect()


async def test_unhandled_event_gets_a_clear_answer(loaded: tuple[Kernel, str, str]) -> None:
    _, url, token = loaded
    client = await browser(url, token)
    answer = await client.call("nobody-listens", 1, timeout=10)
    assert answer["error"] == "unhandled"
    await client.disconnect()


async def test_handler_exception_is_reported_to_the_sender(loaded: tuple[Kernel, str, str]) -> None:
    kernel, url, token = loaded
    await kernel.run("@sio.on('boom')\ndef boom(peer):\n    raise ValueError('no way')\n")
    client = await browser(url, token)
    answer = await client.call("boom", timeout=10)
    assert answer == {"error": "ValueError", "message": "no way", "event": "boom"}
    await client.disconnect()


async def test_non_json_data_raises_in_the_cell(loaded: tuple[Kernel, str, str]) -> None:
    kernel, _, _ = loaded
    execution = await kernel.collect(kernel.submit("sio.emit('x', object(), to='r')"))
    assert execution.error is not None
    assert execution.error["ename"] == "TypeError"
    assert "JSON" in execution.error["evalue"]


async def test_oversized_payload_raises_in_the_cell(loaded: tuple[Kernel, str, str]) -> None:
    kernel, _, _ = loaded
    execution = await kernel.collect(kernel.submit("sio.emit('x', 'y' * 2_000_000, to='r')"))
    assert execution.error is not None
    assert execution.error["ename"] == "PayloadTooLarge"


async def test_cell_magic_broadcasts_html_and_png(loaded: tuple[Kernel, str, str]) -> None:
    kernel, url, token = loaded
    client = await browser(url, token)
    shown: asyncio.Queue[Any] = asyncio.Queue()
    client.on("display", lambda bundle: shown.put_nowait(bundle))
    await client.call("sio:subscribe", {"rooms": ["class"]}, timeout=10)
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    )
    execution = await kernel.run(
        "%%sio_broadcast class\n"
        "from IPython.display import HTML, Image, display\n"
        "display(HTML('<b>hello class</b>'))\n"
        f"display(Image(data={png!r}))\n"
    )
    assert len(execution.outputs) == 2  # the cell still shows its outputs here
    first = await asyncio.wait_for(shown.get(), 10)
    second = await asyncio.wait_for(shown.get(), 10)
    assert first["data"]["text/html"] == "<b>hello class</b>"
    assert base64.b64decode(second["data"]["image/png"]) == png
    await client.disconnect()


async def test_a_browser_socket_can_be_put_into_a_room_by_the_kernel(
    loaded: tuple[Kernel, str, str],
) -> None:
    kernel, url, token = loaded
    client = await browser(url, token)
    news: asyncio.Queue[Any] = asyncio.Queue()
    client.on("news", lambda *a: news.put_nowait(a))
    await kernel.run(f"sio.join('vip', sids=[{client.get_sid()!r}])")
    listing = await kernel.value("[s['rooms'] for s in sio.sockets('vip')]")
    assert "vip" in listing
    await kernel.run("sio.emit('news', 'for vips', to='vip')")
    assert await asyncio.wait_for(news.get(), 10) == ("for vips",)
    await client.disconnect()


async def test_request_reaches_a_cell_handler_like_a_browser_event(
    loaded: tuple[Kernel, str, str],
) -> None:
    kernel, _, _ = loaded
    await kernel.run("@sio.on('double')\ndef double(peer, x):\n    return 2 * x\n")
    assert await kernel.value("sio.request('double', 21)") == "42"
    out = await kernel.run(
        "from jupyter_sio.exceptions import HandlerError\n"
        "try:\n    sio.request('nobody', 1)\n"
        "except HandlerError as exc:\n    print('raised', exc.type, exc)\n"
    )
    assert "raised unhandled" in out.stdout and "'nobody'" in out.stdout
