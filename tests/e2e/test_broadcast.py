"""``%%sio_broadcast``: a plot made in notebook B (its own kernel, its own browser) appears in
notebook A's ``Feed``."""

from __future__ import annotations

from typing import Any

from tests.e2e.lab import Lab, LabPage

ROOM = "class"

FEED = [
    "%load_ext jupyter_sio\n"
    "from jupyter_sio.widgets import Feed\n"
    f"Feed({ROOM!r}, title='what the class sees')",
]

TEACHER = [
    "%load_ext jupyter_sio",
    f"%%sio_broadcast {ROOM}\n"
    "import matplotlib\n"
    "matplotlib.use('module://matplotlib_inline.backend_inline')\n"
    "import matplotlib.pyplot as plt\n"
    "import numpy as np\n\n"
    "x = np.linspace(0, 4 * np.pi, 400)\n"
    "fig, ax = plt.subplots(figsize=(6, 2.5))\n"
    "ax.plot(x, np.sin(x), label='sin')\n"
    "ax.plot(x, np.cos(x), label='cos')\n"
    "ax.legend()\n"
    "plt.show()",
]

IMAGE = ".jsio-feed-item[data-event='display'] img.jsio-mime-image[data-mime='image/png']"


def test_cell_magic_plot_appears_in_the_other_notebooks_feed(lab: Lab, new_page: Any) -> None:
    a: LabPage = new_page(lab.write_notebook("feed.ipynb", FEED))
    a.run_cell(0)
    a.wait_executed(0)
    a.wait_widget(".jsio-feed")
    a.wait_data(".jsio-feed .jsio-status", "status", "v === 'connected'")
    assert a.data(".jsio-feed", "count") == "0"

    b: LabPage = new_page(lab.write_notebook("teacher.ipynb", TEACHER))
    assert a.kernel_id != b.kernel_id
    b.run_cells(0, 2)
    b.wait_executed(1)
    assert b.errors() == []
    b.wait_widget(".jp-RenderedImage img")  # B shows its own plot too

    a.wait_widget(IMAGE)
    a.page.wait_for_function(
        "(sel) => { const img = document.querySelector(sel);"
        " return !!img && img.complete && img.naturalWidth > 0; }",
        arg=a.sel(IMAGE), timeout=30_000)
    src = a.widget(IMAGE).get_attribute("src") or ""
    assert src.startswith("data:image/png;base64,")
    assert a.data(".jsio-feed-item[data-event='display']", "kind") == "image"
    a.screenshot("feed-broadcast.png")
