"""``wait_for_viewers``: who shows a room (a fake listing with a fake clock, and a real hub
with a real browser-like client)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import socketio

from jupyter_sio.kernel.sio import KernelSio
from jupyter_sio.widgets import Viewers, wait_for_viewers
from jupyter_sio.widgets.viewers import display_name


def browser(sid: str, **fields: Any) -> dict[str, Any]:
    return {"sid": sid, "user": "0f3a9c", "display_name": "Anonymous Io", "name": "Anonymous Io",
            "kernel": None, "transport": "websocket", "rooms": ["lobby"], **fields}


KERNEL = {"sid": "k", "user": "kernel", "display_name": "kernel 1234abcd",
          "name": "kernel 1234abcd", "kernel": "1234abcd-0000", "rooms": ["lobby"]}


class Listing:
    """``sio.sockets`` answering from a script, one answer per call; a fake clock."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.calls: list[str | None] = []
        self.now = 0.0
        self.sleeps: list[float] = []

    def sockets(self, room: str | None = None) -> list[dict[str, Any]]:
        self.calls.append(room)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_waits_until_a_browser_is_in_the_room() -> None:
    sio = Listing([KERNEL], [KERNEL], [KERNEL, browser("b1")])
    found = wait_for_viewers(sio, "lobby", clock=sio.clock, sleep=sio.sleep)
    assert sio.calls == ["lobby"] * 3 and sio.sleeps == [0.2, 0.2]
    assert [s["sid"] for s in found.sockets] == ["b1"]  # kernels are not viewers
    assert len(found) == 1 and found.names == ["Anonymous Io"]
    assert repr(found) == "1 browser shows 'lobby': Anonymous Io"


def test_gives_up_at_the_timeout_and_says_so() -> None:
    sio = Listing([KERNEL])
    found = wait_for_viewers(sio, "lobby", timeout=1.0, clock=sio.clock, sleep=sio.sleep)
    assert len(found) == 0 and sio.now == pytest.approx(1.0)
    assert repr(found).startswith("no browser shows 'lobby' yet (waited 1 s)")


def test_names_people_once_by_display_name_never_by_login_id() -> None:
    sio = Listing([browser("b1"), browser("b2"), browser("b3", name="bob", display_name="Bob")])
    found = wait_for_viewers(sio, "lobby", count=3, clock=sio.clock, sleep=sio.sleep)
    assert repr(found) == "3 browsers show 'lobby': Anonymous Io, bob"
    assert "0f3a9c" not in repr(found)
    assert display_name({"user": "0f3a9c", "display_name": "", "name": None}) == "0f3a9c"
    assert display_name({}) == "anonymous"
    with pytest.raises(ValueError, match="count is at least 1"):
        wait_for_viewers(sio, "lobby", count=0)


def test_the_notebook_shows_the_one_line() -> None:
    from IPython.lib.pretty import pretty

    found = Viewers("class", (browser("b1"),), 0.4)
    assert pretty(found) == "1 browser shows 'class': Anonymous Io"


async def test_a_real_hub_lists_a_subscribed_client(embedded_sio: KernelSio) -> None:
    """Through the kernel's own hub: a python-socketio client subscribes to the room while
    the (blocking) wait runs on a thread, as a cell would."""
    assert embedded_sio.embedded is not None and embedded_sio.url is not None
    result: dict[str, Viewers] = {}
    waiting = threading.Thread(
        target=lambda: result.setdefault("v", wait_for_viewers(embedded_sio, "lobby",
                                                               timeout=30)))
    waiting.start()
    client = socketio.AsyncClient(reconnection=False)
    origin = embedded_sio.url.partition("/socket.io/")[0]
    token = embedded_sio.embedded.token
    await client.connect(origin, headers={"Authorization": f"token {token}"},
                         transports=["websocket"], wait_timeout=30)
    try:
        reply = await client.call("sio:subscribe", {"rooms": ["lobby"], "name": "carol"},
                                  timeout=30)
        assert reply["ok"], reply
        await asyncio.get_running_loop().run_in_executor(None, waiting.join, 60)
        assert not waiting.is_alive()
        found = result["v"]
        assert [s["sid"] for s in found.sockets] == [reply["me"]["sid"]]
        assert repr(found) == "1 browser shows 'lobby': carol"
    finally:
        await client.disconnect()
