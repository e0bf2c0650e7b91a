"""A kernel that loads jupyter_sio imports the link client, not the hub's server code."""

from __future__ import annotations

import subprocess
import sys


def test_kernel_side_imports_leave_the_hub_and_transports_out() -> None:
    code = (
        "import sys, jupyter_sio, jupyter_sio.kernel.magics, jupyter_sio.widgets\n"
        "print(sorted(m for m in sys.modules if m.startswith(('jupyter_sio.hub', "
        "'jupyter_sio.transport', 'jupyter_sio.jupyter'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
