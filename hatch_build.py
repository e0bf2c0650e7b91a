"""Build hook: produce the browser assets from js/ when they are missing.

A wheel or editable install of a fresh checkout then contains them; an sdist that already
carries them builds without Node.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).parent
TARGETS = [
    ROOT / "jupyter_sio" / "static" / "vendor" / "socket.io.min.js",
    ROOT / "jupyter_sio" / "widgets" / "static" / "widgets.js",
]


class JsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if all(target.exists() for target in TARGETS):
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to build jupyter_sio's browser assets from js/")
        js = ROOT / "js"
        install = "ci" if (js / "package-lock.json").exists() else "install"
        subprocess.run([npm, install, "--no-audit", "--no-fund"], cwd=js, check=True)
        subprocess.run([npm, "run", "build"], cwd=js, check=True)
        missing = [str(t) for t in TARGETS if not t.exists()]
        if missing:
            raise RuntimeError(f"js build did not produce {missing}")
