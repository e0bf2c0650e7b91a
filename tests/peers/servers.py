"""Start the interop servers (tests/apps/CONTRACT.md) as subprocesses.

Two kinds:

- ``reference``: the official Node socket.io server,
  ``node tests/js/reference_server.mjs --port N``;
- ``jupyter_sio``: ``python -m jupyter_sio serve tests.apps.interop_app:hub
  --host 127.0.0.1 --port N``, run from the repository root with ``PYTHONPATH`` set to it.

Both listen on a free 127.0.0.1 port; ``start`` returns once
``GET /socket.io/?EIO=4&transport=polling`` answers 200. ``stop`` and ``restart`` (on
the same port, for the reconnection tests) are synchronous; ``astop``/``arestart``
run them in a thread so that an event loop keeps going meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
JS_DIR = REPO_ROOT / "tests" / "js"
KINDS = ("reference", "jupyter_sio")
SIO_PATH = "/socket.io/"


class ServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ensure_node_modules() -> None:
    """``npm ci`` in tests/js when its node_modules are missing."""
    if (JS_DIR / "node_modules" / "socket.io" / "package.json").is_file() and (
        JS_DIR / "node_modules" / "socket.io-client" / "package.json"
    ).is_file():
        return
    npm = shutil.which("npm")
    if not npm:
        raise ServerError("npm is not on PATH: cannot install tests/js (npm ci)")
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=JS_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise ServerError(f"npm ci failed in {JS_DIR}:\n{proc.stdout[-4000:]}")


class ServerProcess:
    """One interop server subprocess on a fixed 127.0.0.1 port."""

    def __init__(self, kind: str, port: int | None = None, *, start_timeout: float = 30.0,
                 app: str = "tests.apps.interop_app:hub", recovery: bool | float = False,
                 recovery_max_packets: int | None = None, parser: str = "default") -> None:
        """``recovery``: connection-state recovery on, for 30 s or that many seconds;
        ``recovery_max_packets`` bounds jupyter_sio's log (Node's has no such bound)."""
        if kind not in KINDS:
            raise ValueError(f"unknown server kind {kind!r} (expected one of {KINDS})")
        self.kind = kind
        self.app = app
        self.recovery = 30.0 if recovery is True else float(recovery)
        self.recovery_max_packets = recovery_max_packets
        self.parser = parser
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self._logdir = Path(tempfile.mkdtemp(prefix=f"interop-{kind}-"))
        self.log_path = self._logdir / "server.log"
        self.starts = 0

    def __repr__(self) -> str:
        return f"<ServerProcess {self.kind} {self.url} pid={self.proc and self.proc.pid}>"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ns_url(self, namespace: str = "/") -> str:
        return self.url + namespace

    def command(self) -> list[str]:
        if self.kind == "reference":
            node = os.environ.get("NODE") or shutil.which("node") or "node"
            extra = (["--recovery", "--recovery-window", str(int(self.recovery * 1000))]
                     if self.recovery else [])
            if self.parser == "msgpack":
                extra.append("--msgpack")
            return [node, str(JS_DIR / "reference_server.mjs"), "--port", str(self.port), *extra]
        return [
            sys.executable,
            "-m",
            "jupyter_sio",
            "serve",
            self.app,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        root = str(REPO_ROOT)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        if self.recovery:
            env["JSIO_INTEROP_RECOVERY"] = str(self.recovery)
        if self.recovery_max_packets is not None:
            env["JSIO_INTEROP_RECOVERY_MAX_PACKETS"] = str(self.recovery_max_packets)
        env["JSIO_INTEROP_PARSER"] = self.parser
        return env

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> ServerProcess:
        if self.kind == "reference":
            ensure_node_modules()
        if self.running:
            return self
        deadline = time.monotonic() + self.start_timeout
        last_error = ""
        while True:
            self.starts += 1
            with open(self.log_path, "ab") as log:
                log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    self.command(),
                    cwd=str(REPO_ROOT),
                    env=self.env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_error = f"exited with {self.proc.returncode}"
                    break
                if self._probe():
                    return self
                time.sleep(0.05)
            else:
                self.stop()
                raise ServerError(
                    f"{self.kind} server did not answer on {self.url} within "
                    f"{self.start_timeout}s\n{self.log_tail()}"
                )
            # It exited: retry while the port may still be held (restart on the same
            # port), give up on the deadline.
            if time.monotonic() + 0.2 >= deadline:
                raise ServerError(f"{self.kind} server {last_error}\n{self.log_tail()}")
            time.sleep(0.2)

    def _probe(self) -> bool:
        url = f"{self.url}{SIO_PATH}?EIO=4&transport=polling"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0, *, kill: bool = False) -> None:
        """SIGTERM (graceful: the server may say goodbye to its clients) or, with
        ``kill``, SIGKILL (a crash: connections just drop)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def restart(self, *, kill: bool = False) -> ServerProcess:
        """Stop (see ``stop``) and start again on the same port."""
        self.stop(kill=kill)
        return self.start()

    async def astart(self) -> ServerProcess:
        return await asyncio.to_thread(self.start)

    async def astop(self, *, kill: bool = False) -> None:
        await asyncio.to_thread(self.stop, kill=kill)

    async def arestart(self, *, kill: bool = False) -> ServerProcess:
        return await asyncio.to_thread(self.restart, kill=kill)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return f"--- {self.kind} server log: (none)"
        return f"--- {self.kind} server log ({self.log_path}), tail:\n" + text[-chars:]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._logdir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
