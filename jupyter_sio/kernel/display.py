"""Rich outputs as the mime bundles Jupyter front ends render."""

from __future__ import annotations

import base64
from typing import Any


def mime_bundle(obj: Any) -> dict[str, Any]:
    """``{"data": {mime: value}, "metadata": {...}}`` for ``obj``, as a cell would show it.

    Binary values (PNG, JPEG) are base64 text, as in ``.ipynb`` files, so any client can
    put them in a ``data:`` URL.
    """
    data: dict[str, Any]
    metadata: dict[str, Any]
    if isinstance(obj, dict) and "data" in obj and isinstance(obj["data"], dict):
        data, metadata = dict(obj["data"]), dict(obj.get("metadata") or {})
    else:
        try:
            from IPython.core.interactiveshell import InteractiveShell
        except ImportError:
            data, metadata = {"text/plain": repr(obj)}, {}
        else:
            shell = InteractiveShell.instance() if InteractiveShell.initialized() else None
            if shell is None or shell.display_formatter is None:
                data, metadata = {"text/plain": repr(obj)}, {}
            else:
                data, metadata = shell.display_formatter.format(obj)  # type: ignore[no-untyped-call]
    return {"data": {k: _text(v) for k, v in data.items()}, "metadata": metadata}


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value
