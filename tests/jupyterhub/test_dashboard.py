"""The live dashboard in each Hub user's own server: zero configuration for the user.

alice and bob log in through the Hub and run the dashboard notebook of ``tests/e2e`` (the
core of ``notebooks/02-live-dashboard.ipynb``) in their own JupyterLab, at the same time. The
kernel finds its server's hub under ``/user/<name>/``, the widgets connect through the proxy
with the Hub login, and they keep updating while the kernel sleeps. bob's server takes no
WebSocket (``conftest.POLLING_ONLY``, as behind some proxies): his widgets fall back to
long-polling, whose every request passes the Hub's authentication (cookie with the XSRF
token, which JupyterHub checks on GETs too, and the page's token).
Both servers share Redis, so rooms are shared too: each user's dashboard uses a room of
their own, and shows their values only.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.lab import LabPage
from tests.e2e.test_dashboard import CPU, DASHBOARD, ROOM, SLEEP_CELL, wait_changes
from tests.jupyterhub.conftest import TRANSPORT, USERS, artifact
from tests.jupyterhub.hub import HubUserLab


def dashboard(name: str) -> list[str]:
    """The e2e dashboard, in the room ``dash-<name>``, with the owner's name as a value; the
    sleeping cell says when it runs (a queued cell shows ``[*]`` too, and between two cells
    the kernel is idle for a moment)."""
    cells = list(DASHBOARD)
    cells[0] = cells[0].replace(f"ROOM = {ROOM!r}", f"ROOM = 'dash-{name}'")
    cells[4] = f"metric(sio, ROOM, 'owner', {name!r})\n" + cells[4]
    cells[SLEEP_CELL] = "print('sleeping', flush=True)\n" + cells[SLEEP_CELL]
    return cells


def start(lab: HubUserLab, page: Any) -> LabPage:
    nb = lab.open(page, lab.write_notebook("dashboard.ipynb", dashboard(lab.name)))
    nb.run_cells(0, len(DASHBOARD))
    return nb


def test_each_user_runs_the_dashboard_in_their_own_server(login: Any) -> None:
    pages = {name: start(*login(name)) for name in USERS}
    try:
        for name, nb in pages.items():
            for i in range(SLEEP_CELL):
                nb.wait_executed(i)
            nb.wait_output(SLEEP_CELL, "sleeping")  # from here on the kernel stays busy
            assert nb.errors(*range(SLEEP_CELL)) == []
            assert f"/user/{name}/jupyter-sio/" in nb.output_text(0)
        for name, nb in pages.items():
            # the cards, the chart and the table move while the kernel sleeps
            wait_changes(nb, CPU, while_busy=True)
            wait_changes(nb, ".jsio-table-row[data-key='requests']", while_busy=True)
            nb.wait_data(".jsio-chart", "points", "Number(v) >= 2")
            # this user's room: their own values, not the other user's (same Redis)
            owner = nb.wait_data(".jsio-table-row[data-key='owner']", "value", "v !== ''")
            assert owner == name
            status = nb.widget(".jsio-metric .jsio-status").first.inner_text()
            assert status == f"connected · {TRANSPORT[name]}"
    except BaseException:
        for name, nb in pages.items():  # the pages as they were (the kernels end below)
            nb.page.screenshot(path=str(artifact(f"FAILED-dashboard-{name}.png")))
        raise
    finally:
        for nb in pages.values():  # end the producers (they would load the next test)
            nb.lab.api("kernels", nb.kernel_id, method="DELETE")
