"""The dashboard widgets: small :class:`SioWidget` subclasses with their display options.

Data conventions (see :mod:`jupyter_sio.widgets.publish` for the kernel side):

- ``"metric"`` ``{"key": str, "value": number | str, "t": epoch_seconds}``, emitted to the
  room with ``key=<key>, retain=True`` so a page that opens later shows the current values;
- ``"display"`` a Jupyter mime bundle ``{"data": {...}, "metadata": {...}}``; ``"log"`` text;
- ``"chat"`` ``{user, text, t}`` published by browsers with ``sio:publish``;
- ``"poll"`` ``{id, question, options, closed?}`` (retained), ``"vote"`` ``{poll, choice}``
  with an ack, ``"poll_result"`` ``{id, counts, total}`` (retained).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import traitlets

from .base import SioWidget

#: one room or several
Room = str | Iterable[str]


class MetricCard(SioWidget):
    """The latest value of one metric key, a trend arrow and a sparkline of recent values."""

    _kind = traitlets.Unicode("metric").tag(sync=True)
    key = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    #: Python format spec for numbers (".3g", ".2f", ",d", ".1%")
    fmt = traitlets.Unicode(".3g").tag(sync=True)
    unit = traitlets.Unicode("").tag(sync=True)
    #: how many recent values the sparkline shows
    history = traitlets.Int(30).tag(sync=True)

    def __init__(
        self,
        room: Room,
        key: str,
        label: str | None = None,
        fmt: str = ".3g",
        unit: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(room, key=key, label=label or key, fmt=fmt, unit=unit, **kwargs)


class ValueTable(SioWidget):
    """The latest value of every metric key in a room, one row per key."""

    _kind = traitlets.Unicode("table").tag(sync=True)
    fmt = traitlets.Unicode(".4g").tag(sync=True)
    max_rows = traitlets.Int(1000).tag(sync=True)

    def __init__(self, room: Room, **kwargs: Any) -> None:
        super().__init__(room, **kwargs)


class LiveChart(SioWidget):
    """A line chart of a room's numeric metrics (canvas; ``window`` points per key)."""

    _kind = traitlets.Unicode("chart").tag(sync=True)
    #: the metric keys drawn (empty: every key); ``keys=`` in the constructor
    #: (``Widget.keys`` is taken by ipywidgets)
    series = traitlets.List(traitlets.Unicode()).tag(sync=True)
    window = traitlets.Int(2000, min=2, max=200_000).tag(sync=True)
    height = traitlets.Int(240, min=60).tag(sync=True)
    fmt = traitlets.Unicode(".4g").tag(sync=True)

    def __init__(
        self,
        room: Room,
        keys: Iterable[str] | None = None,
        window: int = 2000,
        **kwargs: Any,
    ) -> None:
        super().__init__(room, series=list(keys or []), window=window, **kwargs)


class Feed(SioWidget):
    """A scrolling list of a room's events: rich ``display`` outputs, ``log`` lines, ..."""

    _kind = traitlets.Unicode("feed").tag(sync=True)
    events = traitlets.List(traitlets.Unicode(), default_value=["display", "log"]).tag(sync=True)
    max_items = traitlets.Int(200, min=1).tag(sync=True)
    height = traitlets.Int(360, min=60).tag(sync=True)

    def __init__(
        self,
        room: Room,
        events: Sequence[str] = ("display", "log"),
        max_items: int = 200,
        **kwargs: Any,
    ) -> None:
        super().__init__(room, events=list(events), max_items=max_items, **kwargs)


class Presence(SioWidget):
    """Who is in the room, live, by Jupyter user name (or the ``name`` they chose)."""

    _kind = traitlets.Unicode("presence").tag(sync=True)
    _announce = traitlets.Bool(True).tag(sync=True)

    def __init__(self, room: Room, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(room, name=name or "", **kwargs)


class Chat(SioWidget):
    """A chat in a room: messages published by browsers since the widget opened."""

    _kind = traitlets.Unicode("chat").tag(sync=True)
    height = traitlets.Int(300, min=60).tag(sync=True)

    def __init__(self, room: Room, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(room, name=name or "", **kwargs)


class Poll(SioWidget):
    """The room's current poll (see :func:`~jupyter_sio.widgets.publish.start_poll`)."""

    _kind = traitlets.Unicode("poll").tag(sync=True)

    def __init__(self, room: Room, **kwargs: Any) -> None:
        super().__init__(room, **kwargs)


class Inspector(SioWidget):
    """Hub statistics every ``interval`` ms: rooms, connections, buffers, message rates."""

    _kind = traitlets.Unicode("inspector").tag(sync=True)
    interval = traitlets.Int(1000, min=250).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)


__all__ = [
    "Chat",
    "Feed",
    "Inspector",
    "LiveChart",
    "MetricCard",
    "Poll",
    "Presence",
    "ValueTable",
]
