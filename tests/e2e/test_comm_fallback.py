"""``_transport="comm"`` forces the comm relay: the widget still updates, and says "comm"."""

from __future__ import annotations

from typing import Any

from tests.e2e.lab import Lab, LabPage

ROOM = "commdash"

NOTEBOOK = [
    "%load_ext jupyter_sio\n"
    "import threading, time\n"
    "from jupyter_sio.widgets import MetricCard, metric\n"
    f"ROOM = {ROOM!r}\n"
    "stop = threading.Event()\n\n"
    "def produce():\n"
    "    n = 0\n"
    "    while not stop.is_set():\n"
    "        n += 1\n"
    "        metric(sio, ROOM, 'ticks', n)\n"
    "        time.sleep(0.1)\n\n"
    "threading.Thread(target=produce, daemon=True).start()",
    "card = MetricCard(ROOM, 'ticks', fmt='d', _transport='comm')\n"
    "card",
    "print('STATE', card._transport, card.status, card.relay is not None)",
]

VALUE = ".jsio-metric[data-key='ticks'] .jsio-metric-value"


def test_forced_comm_transport_still_updates(lab: Lab, new_page: Any) -> None:
    nb: LabPage = new_page(lab.write_notebook("comm.ipynb", NOTEBOOK))
    nb.run_cells(0, 2)
    nb.wait_executed(1)
    assert nb.errors() == []
    nb.wait_widget(VALUE)

    # the badge says "comm" (and the connection is up)
    status = ".jsio-metric .jsio-status"
    nb.wait_data(status, "status", "v === 'connected'")
    assert nb.widget(status).inner_text() == "comm"

    first = nb.wait_data(VALUE, "value", "v !== null && v !== ''")
    second = nb.wait_data(VALUE, "value", "v !== null && v !== '' && Number(v) > Number(arg)",
                          arg=first)
    assert int(second) > int(first)

    # the kernel side agrees: the trait came back from the front end, the relay is running
    nb.run_cell(2)
    nb.wait_executed(2)
    assert nb.wait_output(2, r"STATE").strip() == "STATE comm comm True"
    nb.screenshot("comm-fallback.png")
