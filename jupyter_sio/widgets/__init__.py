"""Real-time widgets for notebooks (anywidget): dashboards, feeds, presence, chat, polls.

::

    from jupyter_sio.widgets import MetricCard, LiveChart, metric
    MetricCard("dash", "cpu", unit="%")
    metric(sio, "dash", "cpu", 42.0)

The widget classes need ``anywidget``; they are imported on first use, so
``jupyter_sio.widgets.publish``, ``wait_for_viewers`` (and ``import jupyter_sio``) work in
kernels without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .publish import PollHandle, metric, start_poll
from .viewers import Viewers, wait_for_viewers

if TYPE_CHECKING:
    from .base import SioWidget
    from .kinds import (
        Chat,
        Feed,
        Inspector,
        LiveChart,
        MetricCard,
        Poll,
        Presence,
        ValueTable,
    )

_WIDGETS = {
    "SioWidget": "base",
    "MetricCard": "kinds",
    "ValueTable": "kinds",
    "LiveChart": "kinds",
    "Feed": "kinds",
    "Presence": "kinds",
    "Chat": "kinds",
    "Poll": "kinds",
    "Inspector": "kinds",
}


def __getattr__(name: str) -> Any:
    module = _WIDGETS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_sio.widgets' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Chat",
    "Feed",
    "Inspector",
    "LiveChart",
    "MetricCard",
    "Poll",
    "PollHandle",
    "Presence",
    "SioWidget",
    "ValueTable",
    "Viewers",
    "metric",
    "start_poll",
    "wait_for_viewers",
]
