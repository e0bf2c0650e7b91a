"""A real ``jupyter server`` (or ``jupyter lab``) subprocess with jupyter_sio, for tests.

Isolated Jupyter directories, a known token, a non-root base URL, a fixed free port (so a
restart comes back at the same address), and a known kernel secret written into the
server's config file (so kernels started outside the server, e.g. by nbclient, can use the
kernel link too).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from tests.kernels import Kernel

BASE_URL = "/sio-test/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, root: Path, *, app: str = "server", base_url: str = BASE_URL,
                 extra_args: list[str] | None = None,
                 sio_config: dict[str, Any] | None = None) -> None:
        self.root = root
        self.app = app
        self.base_url = base_url
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.kernel_secret = secrets.token_urlsafe(24)
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.dirs = {name: root / name for name in ("config", "data", "runtime", "work")}
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        (self.dirs["config"] / "jupyter_server_config.json").write_text(json.dumps({
            "JupyterSioApp": {"kernel_secret": self.kernel_secret, "ping_interval": 2.0,
                              "ping_timeout": 4.0, **(sio_config or {})},
        }))
        self.log_path = root / f"jupyter-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    @property
    def sio_base(self) -> str:
        """The extension's base URL (what ``jupyter_sio.connect`` takes)."""
        return self.url + "jupyter-sio/"

    @property
    def socketio_path(self) -> str:
        return self.base_url + "jupyter-sio/socket.io/"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SIO_")}
        env.update(
            JUPYTER_CONFIG_DIR=str(self.dirs["config"]),
            JUPYTER_DATA_DIR=str(self.dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(self.dirs["runtime"]),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        return env

    @property
    def kernel_env(self) -> dict[str, str]:
        """What a kernel started outside the server needs to reach the hub (nbclient)."""
        return {"JUPYTER_SIO_URL": self.sio_base, "JUPYTER_SIO_TOKEN": self.kernel_secret}

    async def start(self, timeout: float = 60) -> LiveServer:
        args = [
            sys.executable, "-m", "jupyter", self.app, "--no-browser", "--ip=127.0.0.1",
            f"--port={self.port}", "--port-retries=0", f"--ServerApp.base_url={self.base_url}",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.dirs['work']}",
            "--allow-root", *self.extra_args,
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited:\n{self.log()}")
            try:
                await self.api("status")
                return self
            except (OSError, HTTPClientError):
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"jupyter {self.app} did not start:\n{self.log()}") from None
                await asyncio.sleep(0.2)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        for _ in range(100):
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def api(self, *parts: str, method: str = "GET", body: Any = None) -> Any:
        response = await AsyncHTTPClient().fetch(
            self.url + "api/" + "/".join(parts), method=method,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"token {self.token}"}, request_timeout=30,
        )
        return json.loads(response.body) if response.body else None

    async def start_kernel(self) -> ServerKernel:
        info = await self.api("kernels", method="POST", body={"name": "python3"})
        kernel = ServerKernel(self, info["id"])
        await kernel.connect()
        return kernel


class ServerKernel(Kernel):
    """A kernel the server started (so it inherits the server's environment)."""

    def __init__(self, server: LiveServer, kernel_id: str) -> None:
        super().__init__()
        self.server = server
        self.kernel_id = kernel_id

    async def connect(self) -> None:
        from jupyter_client.asynchronous.client import AsyncKernelClient

        connection_file = self.server.dirs["runtime"] / f"kernel-{self.kernel_id}.json"
        for _ in range(100):
            if connection_file.exists():
                break
            await asyncio.sleep(0.1)
        client = AsyncKernelClient()
        client.load_connection_file(str(connection_file))
        # No heartbeat channel: a client without its KernelManager judges "alive" by
        # heartbeats with a 1 s time_to_dead, which a busy machine misses, and
        # wait_for_ready then says "Kernel died before replying to kernel_info" about a
        # kernel that is starting fine. The kernel_info reply (60 s) is the real check.
        client.start_channels(hb=False)
        await client.wait_for_ready(timeout=60)
        self.client = client

    async def restart(self) -> None:
        assert self.client is not None
        self.client.stop_channels()
        await self.server.api("kernels", self.kernel_id, "restart", method="POST", body={})
        await self.connect()

    async def stop(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        with contextlib.suppress(OSError, HTTPClientError):
            await self.server.api("kernels", self.kernel_id, method="DELETE")
