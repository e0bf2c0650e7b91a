"""Every example notebook, top to bottom (*Run All*), headless (nbclient) against a real
server: in a fresh kernel, then again after a kernel restart (*Restart & Run All*).

A browser-like client (python-socketio, logged in with the server token like a browser
page) watches the notebook's room while it runs, so the assertions read what a newcomer
sees: the notebook's own outputs, and what reaches the room. A second one connects after
the run: what the hub kept for a page that opens later (retained values and history).
The browser half of the story (widgets in JupyterLab) is tests/e2e/test_example_notebooks.py.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import pytest_asyncio
import socketio
from nbclient import NotebookClient

from tests.live_server import LiveServer

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
TIMEOUT = 60  # a bound on waits, never a measurement

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    live = await LiveServer(tmp_path_factory.mktemp("nbserver")).start()
    yield live
    await live.stop()


class Viewer:
    """A client in the notebook's room, as a browser page's widget is: it subscribes with
    ``sio:subscribe`` and records every event it hears."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, list[Any]]] = []
        self.me: dict[str, Any] = {}
        self.client.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, list(args)))

    async def join(self, *rooms: str) -> Viewer:
        origin = self.server.url.split(self.server.base_url, 1)[0]
        await asyncio.wait_for(self.client.connect(
            origin, headers={"Authorization": f"token {self.server.token}"},
            socketio_path=self.server.socketio_path, transports=["websocket"],
            wait_timeout=TIMEOUT), TIMEOUT)
        reply = await self.client.call("sio:subscribe", {"rooms": list(rooms)}, timeout=TIMEOUT)
        assert reply["ok"], reply
        self.me = reply["me"]
        return self

    def heard(self, event: str) -> list[Any]:
        """The first argument of every ``event`` heard so far."""
        return [args[0] if args else None for name, args in self.events if name == event]

    async def wait_for(self, what: Callable[[], bool], why: str) -> None:
        for _ in range(TIMEOUT * 20):
            if what():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{why}; heard {[e for e, _ in self.events]}")

    async def close(self) -> None:
        await asyncio.wait_for(self.client.disconnect(), TIMEOUT)


def cell_text(cell: Any) -> str:
    """What a code cell shows: its stream output and the text of its results."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(str(out.data.get("text/plain", "")))
    return "".join(parts)


def shows_widget(cell: Any) -> bool:
    return any("application/vnd.jupyter.widget-view+json" in out.get("data", {})
               for out in cell.get("outputs", []))


class Run:
    """One *Run All* of a notebook: its code cells, findable by a piece of their source."""

    def __init__(self, book: Any) -> None:
        self.cells = [c for c in book.cells if c.cell_type == "code"]

    def cell(self, source: str) -> Any:
        found = [c for c in self.cells if source in c.source]
        assert found, f"no code cell with {source!r}"
        return found[0]

    def text(self, source: str) -> str:
        return cell_text(self.cell(source))

    @property
    def errors(self) -> list[str]:
        return [f"{o.ename}: {o.evalue}" for c in self.cells for o in c.outputs
                if o.output_type == "error"]


async def run_all(client: NotebookClient, book: Any) -> Run:
    """Every cell, top to bottom, with fresh outputs (what *Run All* does)."""
    for index, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            await client.async_execute_cell(cell, index)
    return Run(book)


async def restart(client: NotebookClient) -> None:
    """*Restart*: a new kernel process behind the same connection."""
    assert client.km is not None and client.kc is not None
    await client.km.restart_kernel()
    await client.kc.wait_for_ready(timeout=TIMEOUT)


# -- what each notebook shows -----------------------------------------------------------------
async def check_quickstart(run: Run, viewer: Viewer, late: Viewer) -> None:
    news = [f"hello #{n} from a cell" for n in range(3)]
    assert shows_widget(run.cell('Feed("lobby"'))
    await viewer.wait_for(lambda: [m["text"] for m in viewer.heard("news")][-3:] == news,
                          "the lobby heard the three news")
    # a page that opens later gets them too: they are retained, oldest first
    await late.wait_for(lambda: [m["text"] for m in late.heard("news")] == news,
                        "a late page got the retained news")
    assert run.text('sio.request("vote", "blue")').startswith("{'thanks': 'kernel ")
    assert "'tally': {'blue': 1}" in run.text('sio.request("vote", "blue")')
    # who is connected, by display name; the login's random id shows nowhere
    name, login = viewer.me["display_name"], viewer.me["user"]
    assert name and name != login
    waited = run.text('wait_for_viewers(sio, "lobby")')
    assert re.fullmatch(r"\d browsers? shows? 'lobby': .*", waited), waited
    assert name in waited
    listing = run.text("for s in sio.sockets()")
    rows = [line.split() for line in listing.splitlines()]
    assert any(" ".join(r[:-3]) == name and r[-3:] == ["websocket", "rooms:", "lobby"]
               for r in rows), listing
    assert any(r[0] == "kernel" and r[2:4] == ["kernel", "link"] for r in rows), listing
    assert login not in listing + waited


async def check_dashboard(run: Run, viewer: Viewer, late: Viewer) -> None:
    for source in ("HBox([MetricCard", "LiveChart(ROOM", "ValueTable(ROOM)"):
        assert shows_widget(run.cell(source)), source
    keys = {"cpu", "memory", "requests"}
    await viewer.wait_for(lambda: {m["key"] for m in viewer.heard("metric")} == keys,
                          "the room heard every key while the busy cell slept")
    # a page that opens later gets each key's recent past (metric keeps 200 per key)
    await late.wait_for(
        lambda: sum(m["key"] == "cpu" for m in late.heard("metric")) >= 20,
        "a late page got the cpu history")
    cpu = [m["t"] for m in late.heard("metric") if m["key"] == "cpu"]
    assert len(cpu) <= 200 and cpu == sorted(cpu)  # oldest first
    # the producer still runs: stopping it is the reader's choice, not part of Run All
    assert "stop.set()" not in "".join(c.source for c in run.cells)


async def check_broadcast(run: Run, viewer: Viewer, late: Viewer) -> None:
    assert shows_widget(run.cell('Feed("class"'))
    waited = run.text('wait_for_viewers(sio, "class")')
    assert f"shows 'class': {viewer.me['display_name']}" in waited, waited
    await viewer.wait_for(lambda: len(viewer.heard("display")) >= 3, "the class saw 3 outputs")
    kinds = [sorted(b["data"]) for b in viewer.heard("display")][-3:]
    assert "image/png" in kinds[0] and "text/html" in kinds[1] and "text/html" in kinds[2]
    assert "Exercise 1" in viewer.heard("display")[-1]["data"]["text/html"]
    # this cell shows its own plot too
    plot = run.cell("%%sio_broadcast class\nimport matplotlib")
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)


async def check_collaboration(run: Run, viewer: Viewer, late: Viewer) -> None:
    for source in ("Presence(ROOM)", "Chat(ROOM)", "Poll(ROOM)"):
        assert shows_widget(run.cell(source)), source
    assert "'ok': True" in run.text('sio.request("vote"')
    assert run.text("poll.tally()") == "{'websocket': 1, 'polling': 0}"
    # after Run All the poll is open, for a page that was there and for one that opens later
    for page in (viewer, late):
        await page.wait_for(lambda p=page: bool(p.heard("poll")), "the poll was published")
        poll = page.heard("poll")[-1]
        assert poll["closed"] is False and poll["options"] == ["websocket", "polling"]
    # and it takes votes
    reply = await late.client.call("vote", {"poll": poll["id"], "choice": 1}, timeout=TIMEOUT)
    assert reply == {"ok": True, "choice": 1, "counts": [1, 1], "total": 2}
    await viewer.wait_for(lambda: viewer.heard("poll_result")[-1]["total"] == 2,
                          "the room saw the new result")


CHECKS = {
    "01-quickstart": (["lobby"], check_quickstart),
    "02-live-dashboard": (["dash"], check_dashboard),
    "03-broadcast-from-cells": (["class"], check_broadcast),
    "04-collaborative-session": (["study-group"], check_collaboration),
}


async def test_there_are_four_example_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS] == list(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
async def test_notebook_is_stored_clean(path: Path) -> None:
    """Committed without outputs or execution counts, valid, with a Python 3 kernelspec."""
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    assert book.metadata["kernelspec"]["name"] == "python3"
    for cell in book.cells:
        if cell.cell_type == "code":
            assert (cell.outputs, cell.execution_count) == ([], None), cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
async def test_notebook_runs_all_fresh_and_after_a_restart(server: LiveServer, path: Path,
                                                            tmp_path: Path) -> None:
    rooms, check = CHECKS[path.stem]
    book = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SIO_")}
    env.update(server.kernel_env, JSIO_DEMO_SLEEP="2", MPLBACKEND="agg")
    client = NotebookClient(book, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    async with client.async_setup_kernel(env=env):
        for attempt in ("fresh kernel", "after a restart"):
            if attempt == "after a restart":
                await restart(client)
            viewer = await Viewer(server).join(*rooms)
            try:
                run = await run_all(client, book)
                assert run.errors == [], (attempt, run.errors)
                assert "connected to the Jupyter server's hub" in run.text("%load_ext")
                late = await Viewer(server).join(*rooms)
                try:
                    await check(run, viewer, late)
                finally:
                    await late.close()
            finally:
                await viewer.close()
            # no secret ever lands in the notebook
            saved = nbformat.writes(book)
            assert server.kernel_secret not in saved and server.token not in saved
