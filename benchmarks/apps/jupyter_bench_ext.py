"""The bench app inside Jupyter: a server extension that puts the handlers of
:mod:`benchmarks.apps.jsio_app` on the jupyter_sio extension's hub, so the same generator
measures the Jupyter-mounted endpoint (``<base_url>jupyter-sio/socket.io/``, Jupyter's token
auth on every request) beside the standalone hub. Started by
``benchmarks/servers/jupyter_mounted.py``.

Extensions load in alphabetical order, so this one may load before jupyter_sio has put its
hub into the settings: the handlers are registered in the start hook too.
"""

from __future__ import annotations

from typing import Any

from benchmarks.apps.jsio_app import register

HUB_SETTING = "jupyter_sio_hub"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "benchmarks.apps.jupyter_bench_ext"}]


def _register(serverapp: Any) -> bool:
    hub = serverapp.web_app.settings.get(HUB_SETTING)
    if hub is None or getattr(hub, "_bench_app", False):
        return hub is not None
    hub._bench_app = True
    register(hub)
    return True


def _load_jupyter_server_extension(serverapp: Any) -> None:
    _register(serverapp)


async def _start_jupyter_server_extension(serverapp: Any) -> None:
    if not _register(serverapp):
        serverapp.log.error("jupyter_bench_ext: no %s in the settings (jupyter_sio not loaded?)",
                            HUB_SETTING)
