"""``SioWidget``: the anywidget base of the jupyter_sio widgets.

The front end (``static/widgets.js``, built from ``js/src/``) connects to the hub itself,
with the page's Jupyter login cookie, and keeps updating while the kernel is busy. Where
it cannot reach a hub it falls back to the widget comm, served here by a
:class:`~jupyter_sio.widgets.relay.CommRelay`.

No trait holds a credential: widget state is saved into notebook files.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .relay import MAX_RATE, CommRelay

STATIC = Path(__file__).parent / "static"
ESM = STATIC / "widgets.js"
CSS = STATIC / "widgets.css"


def _rooms(room: str | Iterable[str] | None) -> list[str]:
    if room is None:
        return []
    if isinstance(room, str):
        return [room]
    return [str(r) for r in room]


def _kernel_sio() -> Any:
    """The kernel's ``sio`` if ``%load_ext jupyter_sio`` (or get_sio) made one; no import."""
    magics = sys.modules.get("jupyter_sio.kernel.magics")
    return getattr(magics, "_instance", None) if magics is not None else None


def default_transport() -> str:
    """``"comm"`` when this kernel runs an embedded hub: the page cannot reach it (it would
    need the embedded token, which must stay out of the page and the notebook)."""
    sio = _kernel_sio()
    return "comm" if sio is not None and getattr(sio, "mode", None) == "embedded" else "auto"


class SioWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """Base class: rooms to subscribe to, transport choice, connection status, display."""

    _esm = ESM
    _css = CSS

    #: which front-end widget renders this model ("metric", "chart", ...)
    _kind = traitlets.Unicode("").tag(sync=True)
    #: rooms the front end subscribes to (again after every reconnect)
    rooms = traitlets.List(traitlets.Unicode()).tag(sync=True)
    namespace = traitlets.Unicode("/").tag(sync=True)
    #: "auto": the page's hub, else the comm; "comm": always the comm relay
    _transport = traitlets.Enum(("auto", "comm"), default_value="auto").tag(sync=True)
    #: subscribe with ``announce`` (listed in the room's presence)
    _announce = traitlets.Bool(False).tag(sync=True)
    # A stable id for the front end: anywidget hands initialize() and render() different
    # proxy objects for the same model, so the JS keys its one connection on this.
    _uid = traitlets.Unicode().tag(sync=True)

    #: the id of the kernel that created the widget (it appears in Jupyter URLs: not a
    #: secret); the front end sends it in ``sio:subscribe`` so that the hub gives the events
    #: this widget sends (a Poll's votes, calls) to this kernel, not another notebook's
    _kernel = traitlets.Unicode("").tag(sync=True)

    @traitlets.default("_uid")
    def _default_uid(self) -> str:
        return uuid.uuid4().hex

    @traitlets.default("_kernel")
    def _default_kernel(self) -> str:
        from ..kernel.discovery import kernel_id

        return kernel_id() or ""

    #: name shown to others (presence, chat); empty: the Jupyter user's name
    name = traitlets.Unicode("").tag(sync=True)
    #: set by the front end: "connected · websocket", "comm", "connecting", "disconnected"
    status = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    theme = traitlets.Enum(("auto", "light", "dark"), default_value="auto").tag(sync=True)

    def __init__(
        self,
        room: str | Iterable[str] | None = None,
        *,
        transport: str | None = None,
        sio: Any = None,
        relay_interval: float = 1 / MAX_RATE,
        **kwargs: Any,
    ) -> None:
        if room is not None:
            kwargs.setdefault("rooms", _rooms(room))
        kwargs.setdefault("_transport", transport or default_transport())
        super().__init__(**kwargs)
        self._sio = sio
        self._relay_interval = relay_interval
        self._relay: CommRelay | None = None
        self.on_msg(self._on_front_end_msg)

    # -- comm fallback --------------------------------------------------------------------
    @property
    def relay(self) -> CommRelay | None:
        """The comm relay, once a front end asked for it."""
        return self._relay

    def _on_front_end_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "hello" and content.get("mode") == "comm":
            if self._relay is None:
                try:
                    self._relay = self._make_relay()
                except Exception as exc:
                    self._safe_send(
                        {
                            "type": "batch",
                            "items": [{"type": "status", "connected": False, "reason": str(exc)}],
                        }
                    )
                    return
            self._relay.handle(content)
        elif kind in ("emit", "call", "bye") and self._relay is not None:
            self._relay.handle(content)
        elif kind in ("emit", "call"):
            self._safe_send(
                {
                    "type": "batch",
                    "items": [
                        {
                            "type": "reply",
                            "id": content.get("id"),
                            "ok": False,
                            "error": "no relay: say hello first",
                        }
                    ],
                }
            )

    def _make_relay(self) -> CommRelay:
        sio = self._sio
        if sio is None:
            from ..kernel.magics import get_sio

            sio = get_sio()
        return CommRelay(
            sio, self._safe_send, namespace=self.namespace, interval=self._relay_interval
        )

    def _safe_send(self, content: dict[str, Any]) -> None:
        if self.comm is not None:
            self.send(content)

    def close(self) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.close()
        super().close()
