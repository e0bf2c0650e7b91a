"""The example notebooks as a new user runs them: opened in JupyterLab in Chromium, *Run All*
from the menu, then a page reload and a kernel restart, asserting what the page shows.

The issues: on *Run All* the quickstart's Feed stayed empty (the emit ran before the browser
had subscribed) and "Who is connected" named browsers by hex ids; the collaborative session
ended with ``poll.close()``; after a reload the dashboard's chart showed one point; after a
kernel restart every widget showed ipywidgets' bare broken-link icon.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import run_in_thread
from tests.e2e.lab import (
    ROOT,
    Lab,
    LabPage,
    code_cell_index,
    copy_notebook,
    reload,
    restart_kernel,
    run_all,
    save,
    whoami,
)

NOTEBOOKS = ROOT / "notebooks"
#: tall pages: every cell of a notebook in view (no scrolling between assertions)
TALL = {"width": 1280, "height": 2400}

NOTICE = ".jsio-kernel-notice"
GONE = "[data-kernel='gone']"
LIVE = "[data-kernel='live']"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """This module's ``jupyter lab``: kernels it starts sleep 3 s in the dashboard's busy
    cell (``JSIO_DEMO_SLEEP``, as the headless notebook tests do) instead of 30."""
    from tests.live_server import LiveServer

    server = LiveServer(tmp_path_factory.mktemp("e2e-examples"), app="lab")
    Lab.prepare(server)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JSIO_DEMO_SLEEP", "3")
        run_in_thread(server.start, timeout=90)
    try:
        yield Lab(server)
    finally:
        run_in_thread(server.stop)


def open_example(lab: Lab, new_page: Any, stem: str) -> LabPage:
    name = copy_notebook(lab, NOTEBOOKS / f"{stem}.ipynb")
    nb: LabPage = new_page(name, **TALL)
    return nb


def feed_texts(nb: LabPage) -> list[str]:
    return [str(t) for t in nb.page.eval_on_selector_all(
        nb.sel(".jsio-feed-item"), "(items) => items.map((i) => i.dataset.text ?? '')")]


def wait_news(nb: LabPage) -> None:
    """The lobby Feed shows the three news of the emit cell, in order."""
    nb.wait_data(".jsio-feed", "count", "Number(v) >= 3")
    nb.page.wait_for_function(
        """(sel) => {
            const texts = [...document.querySelectorAll(sel)].map((i) => i.dataset.text);
            return [0, 1, 2].every((n) => texts.includes(`hello #${n} from a cell`));
        }""", arg=nb.sel(".jsio-feed-item"), timeout=30_000)


# -- 01-quickstart ----------------------------------------------------------------------------
def test_quickstart_run_all_reload_and_restart_run_all(lab: Lab, new_page: Any) -> None:
    nb = open_example(lab, new_page, "01-quickstart")
    me = whoami(nb)
    assert me["display_name"] and me["display_name"] != me["username"]

    run_all(nb)
    assert nb.errors() == []
    # the Feed shows the news although they were emitted before it subscribed (retained)
    wait_news(nb)
    texts = feed_texts(nb)
    assert [t for t in texts if t.startswith("hello")][-3:] == [
        f"hello #{n} from a cell" for n in range(3)]
    # the kernel's handler answered with the caller's display name
    answer = nb.output_text(code_cell_index(nb, 'sio.request("vote", "blue")'))
    assert "'tally': {'blue': 1}" in answer and "'thanks': 'kernel " in answer
    # who is connected: this page by its Jupyter display name, never the login's hex id
    viewers = nb.output_text(code_cell_index(nb, 'wait_for_viewers(sio, "lobby")'))
    assert f"shows 'lobby': {me['display_name']}" in viewers, viewers
    listing = nb.output_text(code_cell_index(nb, "for s in sio.sockets()"))
    assert me["display_name"] in listing and "kernel " in listing, listing
    assert me["username"] not in listing + viewers
    nb.screenshot("example-01-run-all.png")

    # reload: the Feed subscribes again and the retained news are there at once
    save(nb)
    reload(nb)
    wait_news(nb)
    assert nb.errors() == []

    # Restart Kernel and Run All: a fresh kernel, the same story
    run_all(nb, restart=True)
    assert nb.errors() == []
    wait_news(nb)
    answer = nb.output_text(code_cell_index(nb, 'sio.request("vote", "blue")'))
    assert "'tally': {'blue': 1}" in answer  # the handler's state is new
    viewers = nb.output_text(code_cell_index(nb, 'wait_for_viewers(sio, "lobby")'))
    assert me["display_name"] in viewers, viewers
    nb.widget(f".jsio-feed{LIVE}").wait_for(timeout=30_000)


# -- 02-live-dashboard ------------------------------------------------------------------------
CPU = ".jsio-metric[data-key='cpu'] .jsio-metric-value"


def wait_moves(nb: LabPage, css: str) -> None:
    """``data-value`` of ``css`` has a value, then another one."""
    first = nb.wait_data(css, "value", "v !== null && v !== ''")
    nb.wait_data(css, "value", "v !== null && v !== '' && v !== arg", arg=first)


def test_dashboard_run_all_reload_and_restart(lab: Lab, new_page: Any) -> None:
    nb = open_example(lab, new_page, "02-live-dashboard")
    run_all(nb)  # the busy cell sleeps 3 s here (JSIO_DEMO_SLEEP)
    assert nb.errors() == []
    for key in ("cpu", "memory", "requests"):
        nb.wait_widget(f".jsio-metric[data-key='{key}']")
    wait_moves(nb, CPU)
    wait_moves(nb, ".jsio-table-row[data-key='requests']")
    nb.wait_data(".jsio-chart", "points", "Number(v) >= 100", timeout=60_000)
    nb.screenshot("example-02-run-all.png")

    # stop the producer the way the notebook's last section says (in the same kernel)
    kernel = lab.kernel(nb.kernel_id)
    try:
        assert kernel.run("stop.set(); producer.join(); print('stopped')").strip() == "stopped"
    finally:
        kernel.close()
    final = nb.wait_data(CPU, "value", "v !== null && v !== ''")

    # reload: nothing is produced any more, yet the chart rebuilds from the retained history
    save(nb)
    reload(nb)
    nb.wait_widget(".jsio-chart")
    # (the bug: one point, the retained current value); at most the last 200 values of
    # "cpu" (metric's history), fewer only if the kernel link conflated some under load
    points = nb.wait_data(".jsio-chart", "points", "Number(v) >= 50", timeout=60_000)
    assert int(points) <= 200
    assert nb.wait_data(CPU, "value", "v === arg", arg=final) == final
    nb.wait_data(".jsio-table", "rows", "v === '3'")
    nb.screenshot("example-02-reloaded.png")

    # restart the kernel: every widget says its Python side is gone and what to do
    restart_kernel(nb)
    for kind in ("metric", "chart", "table"):
        nb.widget(f".jsio-{kind}{GONE} {NOTICE}").first.wait_for(timeout=30_000)
    notices = nb.page.eval_on_selector_all(
        nb.sel(f"{NOTICE}:not([hidden])"),
        "(els) => els.map((e) => [e.closest('.jsio-widget').classList[1], e.innerText, e.title])")
    assert sorted(kind for kind, _, _ in notices) == [
        "jsio-chart", "jsio-metric", "jsio-metric", "jsio-metric", "jsio-table"]
    for kind, text, detail in notices:
        assert text.startswith("The kernel restarted.") and "Run All" in text, text
        assert "still shows “dash” live from the hub" in detail, detail
        if kind != "jsio-metric":  # the cards are small: the whole text is their tooltip
            assert detail.endswith(text), (text, detail)
    # instead of ipywidgets' bare broken-link icon, drawn on the (HBox) views that hold ours
    icons = nb.page.eval_on_selector_all(
        nb.sel(".jupyter-widgets-disconnected"),
        "(els) => els.filter((e) => e.querySelector('.jsio-widget'))"
        ".map((e) => getComputedStyle(e, '::before').display)")
    assert icons == ["none"], icons  # the HBox of the cards
    nb.screenshot("example-02-kernel-restarted.png")

    # the views only display the room: run the producer again and they move again
    for cell in (code_cell_index(nb, "%load_ext jupyter_sio"),
                 code_cell_index(nb, "producer.start()")):
        nb.run_cell(cell)
        nb.wait_executed(cell)
    assert nb.errors() == []
    wait_moves(nb, CPU)
    assert nb.widget(f".jsio-chart{GONE}").count() == 1  # still no Python object

    # Restart Kernel and Run All: fresh widgets, linked to the new kernel
    run_all(nb, restart=True)
    assert nb.errors() == []
    nb.widget(f".jsio-chart{LIVE}").wait_for(timeout=30_000)
    assert nb.widget(GONE).count() == 0
    wait_moves(nb, CPU)


# -- 03-broadcast-from-cells ------------------------------------------------------------------
def test_broadcast_run_all_reaches_the_feed(lab: Lab, new_page: Any) -> None:
    nb = open_example(lab, new_page, "03-broadcast-from-cells")
    me = whoami(nb)
    run_all(nb)
    assert nb.errors() == []
    # the wait cell found this page's Feed, by display name, before anything was broadcast
    waited = nb.output_text(code_cell_index(nb, 'wait_for_viewers(sio, "class")'))
    assert f"1 browser shows 'class': {me['display_name']}" in waited, waited
    # the plot, the table and the exercise all reached the Feed, in order
    nb.wait_data(".jsio-feed", "count", "Number(v) >= 3")
    kinds = nb.page.eval_on_selector_all(
        nb.sel(".jsio-feed-item[data-event='display']"), "(els) => els.map((e) => e.dataset.kind)")
    assert kinds == ["image", "html", "html"], kinds
    nb.screenshot("example-03-run-all.png")


# -- 04-collaborative-session -----------------------------------------------------------------
POLL = ".jsio-poll"


def test_collaborative_session_run_all_keeps_the_poll_open(lab: Lab, new_page: Any) -> None:
    a = open_example(lab, new_page, "04-collaborative-session")
    ann = whoami(a)
    run_all(a)
    assert a.errors() == []

    # the poll is open after Run All: the kernel's own vote is in, a browser's counts too
    a.wait_data(POLL, "closed", "v === 'false'")
    a.wait_data(".jsio-poll-total", "total", "v === '1'")
    a.widget(".jsio-poll-option[data-choice='1']").click()
    a.wait_widget(".jsio-poll-option[data-choice='1'][data-voted='true']")
    a.wait_data(".jsio-poll-total", "total", "v === '2'")
    assert a.data(POLL, "closed") == "false"

    # presence and chat name this page by its Jupyter display name
    a.wait_widget(f".jsio-presence-member[data-me='true'][data-name='{ann['display_name']}']")
    box = a.widget(".jsio-chat .jsio-chat-input")
    box.fill("hello from the first window")
    box.press("Enter")
    a.wait_widget(f".jsio-chat-message[data-own='true'][data-state='sent']"
                  f"[data-user='{ann['display_name']}']")

    # a second window (another login) opens the saved notebook: same kernel, same room
    save(a)
    b = new_page(a.notebook, **TALL)
    bob = whoami(b)
    b.wait_data(POLL, "closed", "v === 'false'", timeout=60_000)
    for page in (a, b):
        page.wait_data(".jsio-presence", "count", "v === '2'")
    b.wait_widget(f".jsio-presence-member[data-me='true'][data-name='{bob['display_name']}']")
    b.widget(".jsio-poll-option[data-choice='0']").click()
    b.wait_widget(".jsio-poll-option[data-choice='0'][data-voted='true']")
    a.wait_data(".jsio-poll-total", "total", "v === '3'")
    a.wait_data(".jsio-poll-option[data-choice='0']", "count", "v === '2'")
    a.screenshot("example-04-two-windows.png")

    # the tally cell, run again, agrees
    tally = code_cell_index(a, "poll.tally()")
    a.run_cell(tally)
    a.wait_output(tally, r"\{'websocket': 2, 'polling': 1\}")

    # after a kernel restart the poll says why votes no longer count, and what to do
    restart_kernel(a)
    a.widget(f"{POLL}{GONE} {NOTICE}").wait_for(timeout=30_000)
    text = a.widget(f"{POLL} {NOTICE}").inner_text()
    assert "Votes are counted by the kernel" in text and "Run All Cells" in text, text

