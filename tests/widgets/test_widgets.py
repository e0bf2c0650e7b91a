"""The widget classes: traits, the ESM bundle, no secrets in state, transport choice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_sio.kernel.sio import KernelSio
from jupyter_sio.widgets import (
    Chat,
    Feed,
    Inspector,
    LiveChart,
    MetricCard,
    Poll,
    Presence,
    SioWidget,
    ValueTable,
)
from jupyter_sio.widgets.base import CSS, ESM, default_transport

ROOT = Path(__file__).resolve().parents[2]


def all_widgets() -> list[SioWidget]:
    return [
        MetricCard("dash", "cpu", label="CPU", fmt=".1f", unit="%"),
        ValueTable("dash"),
        LiveChart("dash", keys=["cpu", "mem"], window=500),
        Feed("news", events=("display", "log", "alert"), max_items=50),
        Presence("lobby", name="Ann"),
        Chat("lobby", name="Ann"),
        Poll("class"),
        Inspector(),
    ]


def test_bundle_exists_and_is_self_contained(bundle: Path) -> None:
    assert bundle == ESM
    text = bundle.read_text()
    assert len(text) > 10_000
    # anywidget loads it from a blob: URL: no relative imports, no require()
    assert "require(" not in text
    assert 'from"./' not in text.replace(" ", "") and "from'./" not in text.replace(" ", "")
    assert "export{" in text.replace(" ", "")
    assert "default" in text
    assert CSS.exists()


def test_widgets_construct_with_their_traits(bundle: Path) -> None:
    metric, table, chart, feed, presence, chat, poll, inspector = all_widgets()
    state = {type(w).__name__: w.get_state() for w in all_widgets()}
    assert {s["_kind"] for s in state.values()} == {
        "metric",
        "table",
        "chart",
        "feed",
        "presence",
        "chat",
        "poll",
        "inspector",
    }
    assert metric.rooms == ["dash"]
    assert (metric.key, metric.label, metric.fmt, metric.unit) == ("cpu", "CPU", ".1f", "%")
    assert MetricCard("r", "k").label == "k"
    assert chart.series == ["cpu", "mem"] and chart.window == 500
    assert LiveChart("r").series == []
    assert feed.events == ["display", "log", "alert"] and feed.max_items == 50
    assert presence._announce is True and presence.name == "Ann"
    assert chat._announce is False and chat.name == "Ann"
    assert poll.rooms == ["class"]
    assert inspector.rooms == [] and inspector.interval == 1000
    assert table.rooms == ["dash"]
    for s in state.values():
        assert s["status"] == ""
        assert s["namespace"] == "/"
        assert s["_transport"] in ("auto", "comm")
        assert "_esm" in s  # the module travels in the state (anywidget)


def test_rooms_accept_lists_and_traits_validate() -> None:
    w = ValueTable(["a", "b"])
    assert w.rooms == ["a", "b"]
    with pytest.raises(Exception, match="transport"):
        ValueTable("a", _transport="carrier-pigeon")
    with pytest.raises(Exception, match="window"):
        LiveChart("a", window=1)


def test_transport_is_auto_without_a_kernel_sio_and_can_be_forced() -> None:
    assert default_transport() == "auto"
    assert MetricCard("r", "k")._transport == "auto"
    assert MetricCard("r", "k", transport="comm")._transport == "comm"


def test_kernel_trait_names_the_kernel_that_created_the_widget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # outside a kernel: no owner, and the front end sends no ``kernel`` in sio:subscribe
    assert MetricCard("r", "k")._kernel == ""
    assert MetricCard("r", "k").get_state()["_kernel"] == ""
    # in a kernel: its id, from its connection file name (as in Jupyter's /api/kernels/<id>)
    import ipykernel.connect

    monkeypatch.setattr(
        ipykernel.connect, "get_connection_file", lambda: "/run/kernel-5b0c1e2a-77f3.json"
    )
    assert all(w._kernel == "5b0c1e2a-77f3" for w in all_widgets())
    assert Poll("class", _kernel="other")._kernel == "other"


def test_embedded_hub_forces_the_comm(kernel_sio: KernelSio) -> None:
    assert kernel_sio.mode == "embedded"
    assert default_transport() == "comm"
    assert all(w._transport == "comm" for w in all_widgets())


def _state_text(w: SioWidget) -> str:
    state = dict(w.get_state())
    state.pop("_esm", None)  # the bundle itself: code, not data
    state.pop("_css", None)
    return json.dumps(state, default=str)


def test_no_trait_holds_a_secret(
    kernel_sio: KernelSio, monkeypatch: pytest.MonkeyPatch, bundle: Path
) -> None:
    secret = "kernel-link-secret-e3b0c44298fc1c149afbf4c8996f"
    monkeypatch.setenv("JUPYTER_SIO_TOKEN", secret)
    assert kernel_sio.embedded is not None
    secrets = [secret, kernel_sio.embedded.token, kernel_sio.embedded.secret]
    for w in all_widgets():
        w.rooms = ["x"]
        w.status = "connected · websocket"
        text = _state_text(w)
        full = json.dumps(w.get_state(), default=str)
        for value in secrets:
            assert value not in text, type(w).__name__
            assert value not in full, type(w).__name__
        assert not any("token" in name or "secret" in name for name in w.trait_names(sync=True))
        assert kernel_sio.url is None or kernel_sio.url not in full


def test_import_without_anywidget_keeps_the_kernel_side_working() -> None:
    code = (
        "import sys; sys.modules['anywidget'] = None\n"
        "import jupyter_sio, jupyter_sio.widgets as w\n"
        "from jupyter_sio.widgets import metric, start_poll\n"
        "try:\n    w.MetricCard\nexcept ImportError:\n    print('lazy ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "lazy ok"


def test_unknown_attribute() -> None:
    import jupyter_sio.widgets as w

    with pytest.raises(AttributeError):
        w.Nope  # noqa: B018


def test_front_end_messages_without_hello_get_an_error_reply() -> None:
    w = Chat("r")
    sent: list[dict[str, Any]] = []
    w.send = sent.append  # type: ignore[method-assign]
    w._handle_custom_msg({"type": "call", "id": "x:1", "event": "e", "args": []}, [])
    assert sent == [
        {
            "type": "batch",
            "items": [
                {"type": "reply", "id": "x:1", "ok": False, "error": "no relay: say hello first"}
            ],
        }
    ]
    w._handle_custom_msg("junk", [])
    w._handle_custom_msg({"type": "emit", "event": "e"}, [])
    assert len(sent) == 2
    w.close()
