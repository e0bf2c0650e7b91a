"""The live dashboard in a real JupyterLab page: widgets update while the kernel is busy and
after it restarts; a page that opens later shows the retained current values (after the
retained history of each key)."""

from __future__ import annotations

from typing import Any

from tests.e2e.lab import Lab, LabPage

ROOM = "dash"
CPU = ".jsio-metric[data-key='cpu'] .jsio-metric-value"

# Like notebooks/02-live-dashboard.ipynb; the busy cell sleeps long and is ended by the
# kernel restart, so no test waits for it.
DASHBOARD = [
    # 0
    "%load_ext jupyter_sio\n"
    "import math, random, threading, time\n"
    "from ipywidgets import HBox\n"
    "from jupyter_sio.widgets import LiveChart, MetricCard, ValueTable, metric\n"
    f"ROOM = {ROOM!r}",
    # 1
    "stop = threading.Event()\n\n"
    "def produce(rate_hz=20):\n"
    "    t0 = time.time()\n"
    "    while not stop.is_set():\n"
    "        t = time.time() - t0\n"
    "        metric(sio, ROOM, 'cpu', 50 + 40 * math.sin(t / 3) + random.uniform(-5, 5))\n"
    "        metric(sio, ROOM, 'memory', 2.0 + 0.5 * math.sin(t / 10))\n"
    "        metric(sio, ROOM, 'requests', int(t * 25))\n"
    "        time.sleep(1 / rate_hz)\n\n"
    "producer = threading.Thread(target=produce, daemon=True)\n"
    "producer.start()",
    # 2
    "HBox([MetricCard(ROOM, 'cpu', unit='%', fmt='.1f'),\n"
    "      MetricCard(ROOM, 'memory', unit='GB', fmt='.2f'),\n"
    "      MetricCard(ROOM, 'requests', fmt=',d')])",
    # 3
    "LiveChart(ROOM, keys=['cpu'], window=3000, height=200)",
    # 4
    "ValueTable(ROOM)",
    # 5
    "time.sleep(600)  # the kernel is busy; the widgets above keep moving",
]
SLEEP_CELL = 5

VIEWER = [
    "%load_ext jupyter_sio\n"
    "from jupyter_sio.widgets import MetricCard, ValueTable\n"
    f"MetricCard({ROOM!r}, 'cpu', fmt='.1f')",
    f"ValueTable({ROOM!r})",
]

STOP_AND_SET_FINAL = (
    "stop.set(); producer.join()\n"
    "metric(sio, ROOM, 'cpu', 42.0)\n"
    "metric(sio, ROOM, 'memory', 1.5)\n"
    "print('final values sent')"
)

#: shared between the tests of this module (the dashboard kernel outlives test 1's page)
state: dict[str, Any] = {}


def wait_changes(nb: LabPage, css: str, *, while_busy: bool = False) -> tuple[str, str]:
    """Read ``data-value`` of ``css`` (once it has one), then wait until it differs."""
    first = nb.wait_data(css, "value", "v !== null && v !== ''")
    second = nb.wait_data(css, "value", "v !== null && v !== '' && v !== arg", arg=first)
    if while_busy:
        # the second value arrived while the sleep cell still runs
        assert nb.kernel_status() == "busy"
        assert "*" in nb.prompt(SLEEP_CELL)
    assert second != first
    return first, second


def readme_screenshot(nb: LabPage) -> None:
    """``dashboard.png`` for the README: no file browser, the cards, chart and table in view,
    the chart with a few hundred points."""
    nb.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()
    nb.page.wait_for_selector("#jp-left-stack", state="hidden", timeout=10_000)
    nb.wait_data(".jsio-chart", "points", "Number(v) >= 300", timeout=60_000)
    nb.cells().nth(2).evaluate("(el) => el.scrollIntoView({block: 'start'})")
    nb.screenshot("dashboard.png")


def test_dashboard_updates_while_busy_and_after_restart(lab: Lab, new_page: Any) -> None:
    name = lab.write_notebook("dashboard.ipynb", DASHBOARD)
    nb: LabPage = new_page(name)
    nb.run_cells(0, len(DASHBOARD))
    for i in range(SLEEP_CELL):
        nb.wait_executed(i)
    nb.wait_running(SLEEP_CELL)
    nb.wait_status("busy")
    assert nb.errors(*range(SLEEP_CELL)) == []

    # all three cards, the chart and the table render and fill while the kernel sleeps
    for key in ("cpu", "memory", "requests"):
        nb.wait_widget(f".jsio-metric[data-key='{key}']")
    nb.wait_widget(".jsio-chart")
    nb.wait_widget(".jsio-table")
    wait_changes(nb, CPU, while_busy=True)
    wait_changes(nb, ".jsio-table-row[data-key='requests']", while_busy=True)
    nb.wait_data(".jsio-table", "rows", "Number(v) >= 3")
    assert nb.data(".jsio-metric", "count") not in (None, "", "0")
    nb.screenshot("dashboard-live.png")
    readme_screenshot(nb)

    # restart the kernel (REST API, as the Lab UI does): the sleep ends, the producer dies
    kernel_id = nb.kernel_id
    lab.restart_kernel(kernel_id)
    nb.wait_idle()
    # the views in the page keep their last values; rerun only the producer cells
    nb.run_cells(0, 2)
    nb.wait_executed(1)
    assert nb.errors(0, 1) == []
    wait_changes(nb, CPU)
    wait_changes(nb, ".jsio-table-row[data-key='requests']")
    nb.screenshot("dashboard-after-restart.png")
    state["kernel_id"] = kernel_id


def test_late_page_shows_retained_values(lab: Lab, new_page: Any) -> None:
    kernel_id = state.get("kernel_id")
    if kernel_id is None:  # run alone: a headless kernel runs the producer
        kernel = lab.start_kernel()
        kernel.run(DASHBOARD[0])
        kernel.run(DASHBOARD[1])
    else:
        kernel = lab.kernel(kernel_id)
    try:
        assert kernel.run(STOP_AND_SET_FINAL).strip() == "final values sent"
    finally:
        kernel.close()

    name = lab.write_notebook("viewer.ipynb", VIEWER)
    nb: LabPage = new_page(name)
    nb.run_cells(0, len(VIEWER))
    nb.wait_executed(len(VIEWER) - 1)
    # the retained current value, last of the key's retained history (metric keeps 200
    # values per key): no live ones after it, the producer has stopped
    value = nb.wait_data(CPU, "value", "v !== null && v !== '' && Number(v) === 42")
    assert float(value) == 42.0
    assert 1 < int(nb.data(".jsio-metric", "count") or 0) <= 200
    memory = nb.wait_data(".jsio-table-row[data-key='memory']", "value",
                          "v !== null && v !== '' && Number(v) === 1.5")
    assert float(memory) == 1.5
    nb.wait_data(".jsio-table", "rows", "Number(v) === 3")
    assert nb.data(".jsio-table-row[data-key='cpu']", "value") == value
    nb.screenshot("dashboard-retained.png")

