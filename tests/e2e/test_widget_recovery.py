"""A dashboard whose browser drops off for a moment misses nothing (issue 10): with
``c.JupyterSioApp.recovery_window`` set, the widgets' socket.io-client recovers its session
(same socket ids, rooms kept) and the hub replays what it missed, in order, keyed values as
their newest value only; the widgets show every reliable update exactly once and in order.

The cut is real: the server aborts the widgets' TCP connections (a test-only extension,
``tests/blip_extension.py``), so both ends see "transport close", and the page stays
offline (Playwright's ``set_offline``) while the kernel keeps emitting, so that those
emits can only come back through the recovery.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.blip_extension import enable
from tests.e2e.conftest import running_lab
from tests.e2e.lab import Lab, LabPage

ROOM = "blip"
FEED = ".jsio-feed"
CPU = ".jsio-metric[data-key='cpu']"

NOTEBOOK = [
    "%load_ext jupyter_sio\n"
    "from ipywidgets import VBox\n"
    "from jupyter_sio.widgets import Feed, MetricCard, metric\n"
    f"ROOM = {ROOM!r}",
    "VBox([Feed(ROOM, events=['tick'], title='ticks', max_items=500),\n"
    "      MetricCard(ROOM, 'cpu', fmt='.0f')])",
]


def emit(first: int, last: int) -> str:
    """Kernel code: ticks ``first``..``last`` (reliable) and the cpu metric (keyed)."""
    return (
        f"for i in range({first}, {last} + 1):\n"
        "    sio.emit('tick', {'text': f'tick {i}'}, to=ROOM)\n"
        "    metric(sio, ROOM, 'cpu', i)\n"
        "print('sent')"
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(
        tmp_path_factory,
        "e2e-recovery",
        {"recovery_window": 60.0},
        before_start=lambda server: enable(server.dirs["config"]),
    )


def hub_route(lab: Lab, route: str, method: str = "GET", **query: str) -> Any:
    """Call the test-only extension (tests/blip_extension.py) with the server token."""
    server = lab.server
    params = "&".join(f"{k}={v}" for k, v in query.items())
    request = urllib.request.Request(
        f"{server.url}jsio-test/{route}?{params}",
        method=method,
        data=b"" if method == "POST" else None,
        headers={"Authorization": f"token {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def feed_texts(nb: LabPage) -> list[str]:
    return [
        str(t)
        for t in nb.page.eval_on_selector_all(
            nb.sel(".jsio-feed-item"), "(items) => items.map((i) => i.dataset.text)"
        )
    ]


def test_widgets_recover_a_blip_with_every_update_once_and_the_newest_keyed_value(
    lab: Lab, new_page: Any
) -> None:
    nb: LabPage = new_page(lab.write_notebook("recovery.ipynb", NOTEBOOK))
    nb.run_cells(0, 2)
    nb.wait_executed(1)
    assert nb.errors() == []
    nb.wait_widget(FEED)
    nb.wait_widget(CPU)
    for css in (FEED, CPU):
        nb.wait_data(f"{css} .jsio-status", "status", "v === 'connected'")
    kernel = lab.kernel(nb.kernel_id)
    try:
        assert kernel.run(emit(0, 9)).strip() == "sent"
        nb.wait_data(FEED, "count", "Number(v) === 10")
        nb.wait_data(f"{CPU} .jsio-metric-value", "value", "Number(v) === 9")
        count_before = int(nb.data(CPU, "count") or 0)
        sids = hub_route(lab, "state", room=ROOM)["sids"]
        assert len(sids) == 2  # the Feed's socket and the MetricCard's

        # the network goes: the server cuts both TCP connections, the page stays offline
        assert sorted(hub_route(lab, "blip", "POST", room=ROOM)["aborted"]) == sids
        nb.page.context.set_offline(True)  # (Chromium also closes sockets going offline)
        for css in (FEED, CPU):
            nb.wait_data(f"{css} .jsio-status", "status", "v !== 'connected'")
        assert kernel.run(emit(10, 29)).strip() == "sent"  # missed by the page
        assert hub_route(lab, "state", room=ROOM)["sids"] == []  # (still away)

        nb.page.context.set_offline(False)
        for css in (FEED, CPU):
            nb.wait_data(f"{css} .jsio-status", "status", "v === 'connected'")
            status = nb.widget(f"{css} .jsio-status").first.text_content() or ""
            assert "recovered" in status, status
        nb.wait_data(FEED, "count", "Number(v) >= 30")
        nb.wait_data(f"{CPU} .jsio-metric-value", "value", "Number(v) === 29")
        assert hub_route(lab, "state", room=ROOM)["sids"] == sids  # same ids, same room

        # every reliable update once, in order (no offset shown, none twice); the keyed
        # value came back as its newest only, not as the 20 values missed nor the retained
        # history of the key
        assert feed_texts(nb) == [f"tick {i}" for i in range(30)]
        assert int(nb.data(CPU, "count") or 0) == count_before + 1

        # and live updates flow on the recovered sockets
        assert kernel.run(emit(30, 30)).strip() == "sent"
        nb.wait_data(FEED, "count", "Number(v) === 31")
        assert feed_texts(nb)[-1] == "tick 30"
    finally:
        kernel.close()
    nb.screenshot("widget-recovery.png")
