"""The widgets on a hub with ``c.JupyterSioApp.parser = "msgpack"`` (issue 10): they read
the parser from page config and connect with socket.io-msgpack-parser (a default-parser
client would be refused by this hub), and show what the kernel emits, binary included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import running_lab
from tests.e2e.lab import Lab, LabPage

ROOM = "packed"
NOTEBOOK = [
    "%load_ext jupyter_sio\n"
    "from ipywidgets import VBox\n"
    "from jupyter_sio.widgets import Feed, MetricCard, metric\n"
    f"ROOM = {ROOM!r}",
    "VBox([Feed(ROOM, events=['log']), MetricCard(ROOM, 'cpu', fmt='.1f')])",
]
EMIT = (
    "metric(sio, ROOM, 'cpu', 12.5)\n"
    "sio.emit('log', {'text': 'packed ok', 'raw': b'\\x00\\xff'}, to=ROOM)\n"
    "print('sent')"
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(tmp_path_factory, "e2e-msgpack", {"parser": "msgpack"})


def test_widgets_speak_msgpack_when_the_hub_does(lab: Lab, new_page: Any) -> None:
    nb: LabPage = new_page(lab.write_notebook("msgpack.ipynb", NOTEBOOK))
    nb.run_cells(0, 2)
    nb.wait_executed(1)
    assert nb.errors() == []
    for css in (".jsio-feed", ".jsio-metric"):
        nb.wait_widget(css)
        nb.wait_data(f"{css} .jsio-status", "status", "v === 'connected'")
    kernel = lab.kernel(nb.kernel_id)
    try:
        assert kernel.run(EMIT).strip() == "sent"
    finally:
        kernel.close()
    nb.wait_data(".jsio-metric .jsio-metric-value", "value", "Number(v) === 12.5")
    nb.wait_data(".jsio-feed", "count", "Number(v) === 1")
    assert nb.data(".jsio-feed-item", "text") == "packed ok"
