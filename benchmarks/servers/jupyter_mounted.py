"""jupyter_sio inside a real Jupyter server, serving the bench app (benchmarks/README.md).

Makes isolated Jupyter directories in a temp dir, writes a config enabling the jupyter_sio
extension and :mod:`benchmarks.apps.jupyter_bench_ext` with the suite's settings, and
execs ``python -m jupyter_server`` (so this PID is the server's). The generator connects to
``/jupyter-sio/socket.io/`` with ``Authorization: token <--token>``: every request passes
Jupyter's authentication, as a browser's or a script's would.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT, parse_args, raise_fd_limit


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], token=True)
    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="jsio-bench-jupyter-"))
    dirs = {name: tmp / name for name in ("config", "data", "runtime", "work", "ipython")}
    for path in dirs.values():
        path.mkdir()
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_sio": True,
                                              "benchmarks.apps.jupyter_bench_ext": True}},
        "JupyterSioApp": {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT,
                          "max_payload": MAX_PAYLOAD},
    }))
    os.environ.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(dirs["ipython"]))
    for name in [k for k in os.environ if k.startswith("JUPYTER_SIO_")]:
        del os.environ[name]
    # cwd: the temp dir, since `-m` puts the cwd first on sys.path, ahead of PYTHONPATH (a
    # --jsio-ref snapshot must win over the working tree's jupyter_sio)
    os.chdir(tmp)
    os.execv(sys.executable, [
        sys.executable, "-m", "jupyter_server", "--no-browser", f"--ip={args.host}",
        f"--port={args.port}", "--port-retries=0", f"--IdentityProvider.token={args.token}",
        f"--ServerApp.root_dir={dirs['work']}", "--allow-root", "--log-level=WARN"])


if __name__ == "__main__":
    main()
