"""Hub handlers for ``benchmarks/kernel_path.py``: the reference the kernel path is compared to.

A Jupyter server extension (enabled by kernel_path.py through ``ServerApp.jpserver_extensions``)
that registers two handlers on the jupyter_sio extension's hub, doing in the server what the
benchmark's kernel cells do through the kernel link:

- ``hub_burst(socket, spec)``: emit ``spec["n"]`` ``"tick"`` events ``{"i": i, "t": time}`` to
  ``spec["room"]`` (the kernel cell's payload), at ``spec["rate"]`` emits/s when given, else as
  fast as the hub goes; answers ``{"loop_s": ...}`` once the last one is sent.
- ``hub_echo(socket, *args)``: answers the ack with ``args``;
- ``hub_info(socket)``: where the server's jupyter_sio comes from.

Extensions load in alphabetical order, so ``benchmarks.kernel_path_ext`` loads before
``jupyter_sio`` has put its hub into the settings: the handlers are registered in the start
hook, which runs once every extension is loaded (and at load time if the hub is already there).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_sio.hub.hub import Hub

HUB_SETTING = "jupyter_sio_hub"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "benchmarks.kernel_path_ext"}]


def register(hub: Hub) -> None:
    """Add the benchmark's handlers to ``hub`` (idempotent)."""
    if getattr(hub, "_kernel_path_bench", False):
        return
    hub._kernel_path_bench = True  # type: ignore[attr-defined]

    @hub.on("hub_burst")
    async def hub_burst(socket: Any, spec: dict[str, Any]) -> dict[str, float]:
        n, room, rate = int(spec["n"]), str(spec["room"]), float(spec.get("rate") or 0)
        t0 = time.perf_counter()
        for i in range(n):
            if rate:
                # pace like the cell does (time.sleep there), without blocking the hub's loop
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            delivery = hub.emit("tick", {"i": i, "t": time.time()}, to=room)
            if not delivery.done():  # a subscriber's buffer is full: wait (backpressure)
                await delivery
        return {"loop_s": time.perf_counter() - t0}

    @hub.on("hub_echo")
    def hub_echo(socket: Any, *args: Any) -> tuple[Any, ...]:
        return args

    @hub.on("hub_info")
    def hub_info(socket: Any) -> dict[str, str]:
        """Which jupyter_sio the server runs (kernel_path.py checks it is the one asked for)."""
        import jupyter_sio

        return {"module": jupyter_sio.__file__ or ""}


def _load_jupyter_server_extension(serverapp: Any) -> None:
    hub = serverapp.web_app.settings.get(HUB_SETTING)
    if hub is not None:
        register(hub)


async def _start_jupyter_server_extension(serverapp: Any) -> None:
    hub = serverapp.web_app.settings.get(HUB_SETTING)
    if hub is None:
        serverapp.log.error("kernel_path_ext: no %s in the settings (jupyter_sio not loaded?)",
                            HUB_SETTING)
        return
    register(hub)
    serverapp.log.info("kernel_path_ext: hub_burst and hub_echo registered on the jupyter_sio hub")
