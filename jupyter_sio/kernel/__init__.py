"""The kernel side: ``%load_ext jupyter_sio`` and ``jupyter_sio.connect()``.

Kernels are trusted server-side peers: from a cell they emit to rooms, answer browser events
(``@sio.on``), put browser sockets into rooms and list who is connected. The client runs on
its own thread and loop (see :mod:`.sio`), finds its hub without configuration
(:mod:`.discovery`) and falls back to a hub inside the kernel (:mod:`.embedded`).
"""

from __future__ import annotations

from .discovery import Endpoint
from .sio import KernelSio, Peer


def connect(
    url: str | None = None,
    token: str | None = None,
    *,
    embedded: bool | None = None,
    timeout: float = 10.0,
) -> KernelSio:
    """Connect to a hub and return a started :class:`KernelSio`.

    Without ``url``: the hub of the server that started this kernel, else an embedded one.
    With ``url``: a Jupyter server's extension base (``http://host:8888/jupyter-sio/``),
    authenticated with the server ``token`` (a user with ``execute`` permission): the
    script then has the same kernel link, and powers, as a notebook kernel.
    """
    if url is None:
        return KernelSio().start(embedded=embedded, timeout=timeout)
    base = url if url.endswith("/") else url + "/"
    for suffix in ("socket.io/", "kernel/"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    headers = {"Authorization": f"token {token}"} if token else {}
    endpoint = Endpoint(base + "kernel/", headers, source="explicit", base=base)
    return KernelSio().start(endpoint, timeout=timeout)


__all__ = ["Endpoint", "KernelSio", "Peer", "connect"]
