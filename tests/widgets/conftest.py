"""Fixtures of the widget tests: the built bundle, an embedded-hub ``sio``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sio.kernel.sio import KernelSio

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "jupyter_sio" / "widgets" / "static" / "widgets.js"


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The built widget ESM; built with npm if missing (and npm + js/node_modules exist)."""
    if not BUNDLE.exists():
        npm = shutil.which("npm")
        if npm is None or not (ROOT / "js" / "node_modules").exists():
            pytest.fail("jupyter_sio/widgets/static/widgets.js is missing: cd js && npm run build")
        subprocess.run([npm, "run", "build"], cwd=ROOT / "js", check=True, capture_output=True)
    return BUNDLE


@pytest.fixture
def embedded_sio() -> Iterator[KernelSio]:
    """A kernel-side ``sio`` with an embedded hub (what a plain kernel gets)."""
    sio = KernelSio().start(embedded=True)
    try:
        yield sio
    finally:
        sio.close()


@pytest.fixture
def kernel_sio(embedded_sio: KernelSio, monkeypatch: pytest.MonkeyPatch) -> KernelSio:
    """``embedded_sio`` installed as the kernel's ``sio`` (as ``%load_ext`` would)."""
    from jupyter_sio.kernel import magics

    monkeypatch.setattr(magics, "_instance", embedded_sio)
    return embedded_sio
