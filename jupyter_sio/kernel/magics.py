"""``%load_ext jupyter_sio``: the ``sio`` object, ``%sio`` and ``%%sio_broadcast``."""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.utils.capture import capture_output

from .display import mime_bundle
from .sio import KernelSio

_instance: KernelSio | None = None


def get_sio(*, start: bool = True) -> KernelSio:
    """The kernel's one ``sio`` (started on first use)."""
    global _instance
    if _instance is None or _instance.mode == "closed":
        _instance = KernelSio()
        if start:
            _instance.start()
    return _instance


@magics_class
class SioMagics(Magics):  # type: ignore[misc]
    @line_magic  # type: ignore[misc]
    def sio(self, line: str = "") -> None:
        """Status of the hub connection: mode, URL, rooms, connected clients."""
        info = get_sio().status()
        hub = info.get("hub") or {}
        print(f"jupyter_sio: mode={info['mode']} connected={info['connected']}")
        print(f"  url:      {info['url']}")
        print(f"  kernel:   {info['kernel'] or '-'}  socket {info['sid']}")
        print(f"  rooms:    {', '.join(info['rooms']) or '-'}")
        print(f"  handlers: {', '.join(info['handlers']) or '-'}")
        link = info.get("link")
        if link:
            print(
                f"  link:     {link['state']}, {link['queued']} frames ({link['queued_bytes']} B) "
                f"waiting; dropped {link['dropped']}, conflated {link['conflated']}, "
                f"blocked {link['blocked']}, BufferFull {link['buffer_full']}, "
                f"reconnects {link['reconnects']}"
            )
        if "clients" in hub:
            namespaces = hub.get("namespaces", {})
            counts = ", ".join(f"{ns} {v['sockets']} sockets" for ns, v in namespaces.items())
            print(f"  hub:      {hub['clients']} connections ({counts})")
            adapter = hub.get("adapter") or {}
            if adapter.get("kind", "memory") != "memory":  # only cross-node adapters can fail
                state = adapter.get("state")
                error = f"; {adapter.get('last_error')}" if state != "connected" else ""
                print(
                    f"  adapter:  {adapter['kind']} {state}, reconnects "
                    f"{adapter.get('reconnects', 0)}, dropped {adapter.get('dropped', 0)}{error}"
                )
        if info["mode"] == "embedded":
            print("  (embedded hub: other clients need sio.embedded.token)")

    @cell_magic  # type: ignore[misc]
    def sio_broadcast(self, line: str, cell: str) -> None:
        """Run the cell, show its output here and send its rich outputs to a room.

        Usage: ``%%sio_broadcast ROOM [--event display] [--quiet]``. Every display output
        (HTML, images, plots, the cell's result) is emitted as one ``event`` with the mime
        bundle ``{"data": ..., "metadata": ...}``.
        """
        args = shlex.split(line)
        if not args:
            raise ValueError("usage: %%sio_broadcast ROOM [--event NAME] [--quiet]")
        room, event, quiet = args[0], "display", "--quiet" in args
        if "--event" in args:
            event = args[args.index("--event") + 1]
        shell = self.shell
        assert shell is not None
        with capture_output(stdout=True, stderr=True, display=True) as captured:
            result = shell.run_cell(cell, store_history=False)  # type: ignore[no-untyped-call]
        if not quiet:
            captured.show()  # type: ignore[no-untyped-call]
        bundles: list[dict[str, Any]] = [
            {"data": out.data, "metadata": out.metadata} for out in captured.outputs
        ]
        if result.result is not None:
            bundles.append(mime_bundle(result.result))
            if not quiet:
                shell.displayhook(result.result)
        if captured.stdout:
            bundles.insert(0, {"data": {"text/plain": captured.stdout}, "metadata": {}})
        sio = get_sio()
        for bundle in bundles:
            sio.emit(event, mime_bundle(bundle), to=room)
        result.raise_error()


def load_ipython_extension(ipython: Any) -> None:
    sio = get_sio()
    ipython.push({"sio": sio})
    ipython.register_magics(SioMagics)
    where = {
        "server": "the Jupyter server's hub",
        "embedded": "an embedded hub in this kernel",
        "client": "the hub",
    }.get(sio.mode, sio.mode)
    print(f"jupyter_sio: connected to {where} ({sio.url}); use `sio` in cells, %sio for status")
    if sio.mode == "embedded" and sio.why:
        print(f"jupyter_sio: an embedded hub because {sio.why}. Widgets still work "
              "(through this kernel when the page cannot reach the hub).")


def unload_ipython_extension(ipython: Any) -> None:
    global _instance
    if _instance is not None:
        _instance.close()
        _instance = None
