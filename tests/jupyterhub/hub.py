"""A real JupyterHub for tests: configurable-http-proxy, local single-user servers, passwords.

:class:`LiveJupyterHub` writes a ``jupyterhub_config.py`` into a temporary directory and runs
``jupyterhub`` as a subprocess, everything on 127.0.0.1 with free ports:

- the proxy is the ``configurable-http-proxy`` of ``tests/js/node_modules`` (npm, a
  devDependency there: ``scripts/setup --tests`` installs it);
- users log in with the shared-password authenticator and get a
  ``SimpleLocalProcessSpawner`` server: ``jupyterhub-singleuser`` as the current user, with
  the home directory ``<tmp>/home/<name>``;
- a service token (:attr:`LiveJupyterHub.api_token`) lets the tests use the Hub's REST API and
  each single-user server's (``/user/<name>/api/...``) without a browser.

What jupyter_sio needs from the admin goes into ``c.Spawner.args`` as ``--JupyterSioApp.*``
options (Redis URL, room policy), exactly as the README's JupyterHub section shows; users
configure nothing.

:class:`HubUserLab` gives one user's server the interface of :class:`tests.e2e.lab.Lab`, so
the browser helpers of ``tests/e2e`` drive it unchanged. Every wait is bounded; nothing
asserts a duration.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.lab import LAB_TIMEOUT, Lab
from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PROXY = ROOT / "tests" / "js" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE = "jsio-test-driver"

#: bounds for a busy 2-core machine: starting the Hub, spawning a server (Lab + extensions)
HUB_START_TIMEOUT = 90.0
SPAWN_TIMEOUT = 90.0

CONFIG = '''\
# Written by tests/jupyterhub/hub.py
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///" + {db!r}
c.JupyterHub.cookie_secret_file = {cookie_secret!r}
c.JupyterHub.pid_file = {pid_file!r}
c.JupyterHub.cleanup_servers = True
# the spawn API answers at once (202) instead of waiting up to 10 s for the server
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}
c.JupyterHub.log_level = "INFO"

c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = {proxy_pid_file!r}

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {users!r}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {home!r} + "/{{username}}"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = {spawn_timeout}
c.Spawner.http_timeout = {spawn_timeout}
# The admin's jupyter_sio settings for every single-user server (README: JupyterHub).
# --allow-root only because CI runs as root.
c.Spawner.args = ["--allow-root", *{sio_args!r}]

c.JupyterHub.services = [{{"name": {service!r}, "api_token": {api_token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": {service!r},
    "scopes": ["admin:users", "admin:servers", "access:servers", "tokens"],
    "services": [{service!r}],
}}]
'''


class LiveJupyterHub:
    """``jupyterhub`` in a subprocess with its own proxy, database and user homes."""

    def __init__(self, root: Path, *, users: list[str],
                 sio_config: dict[str, Any] | None = None) -> None:
        self.root = root
        self.users = users
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self.api_token = secrets.token_hex(24)
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "jupyterhub.log"
        self.proc: subprocess.Popen[bytes] | None = None
        sio_args = [f"--JupyterSioApp.{name}={value}" for name, value in (sio_config or {}).items()]
        self.config_path = root / "jupyterhub_config.py"
        self.config_path.write_text(CONFIG.format(
            port=self.port, hub_port=free_port(), proxy_api_port=free_port(),
            db=str(root / "jupyterhub.sqlite"), cookie_secret=str(root / "cookie_secret"),
            pid_file=str(root / "jupyterhub.pid"), proxy=str(PROXY),
            proxy_pid_file=str(root / "proxy.pid"), password=self.password,
            users=set(users), home=str(self.home), python=sys.executable,
            spawn_timeout=int(SPAWN_TIMEOUT), sio_args=sio_args, service=SERVICE,
            api_token=self.api_token,
        ))

    @property
    def url(self) -> str:
        """The public URL (the proxy)."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = HUB_START_TIMEOUT) -> LiveJupyterHub:
        if not PROXY.exists():
            raise RuntimeError(f"{PROXY} is missing: run scripts/setup --tests "
                               "(npm ci in tests/js)")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(self.config_path)],
                cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited:\n{self.log()}")
            try:
                self.api("")  # the version: needs no scope
                return
            except urllib.error.HTTPError as exc:
                if exc.code != 404 and exc.code < 500:  # 404, 503: the proxy has no route yet
                    raise
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyterhub did not start:\n{self.log()}")
            time.sleep(0.2)  # paces the readiness probe

    def stop(self) -> None:
        """SIGTERM to the Hub's process group: the Hub stops its servers and the proxy."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def request(self, url: str, *, method: str = "GET", body: Any = None) -> Any:
        """A JSON request with the service token (Hub API or a single-user server's API)."""
        data = None if body is None else json.dumps(body).encode()
        if method == "POST" and data is None:
            data = b"{}"
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"token {self.api_token}", "Content-Type": "application/json",
        })
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def api(self, *parts: str, method: str = "GET", body: Any = None) -> Any:
        return self.request(self.url + "hub/api/" + "/".join(parts), method=method, body=body)

    def user_config(self, name: str, config: dict[str, Any]) -> None:
        """Write ``name``'s own ``~/.jupyter/jupyter_server_config.json`` (before a spawn)."""
        path = self.home / name / ".jupyter" / "jupyter_server_config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config))

    def spawn(self, name: str) -> None:
        """Ask the Hub to start ``name``'s server (returns before it is ready: a login then
        waits on the Hub's spawn-pending page)."""
        try:
            self.api("users", name, "server", method="POST")
        except urllib.error.HTTPError as exc:
            if exc.code != 400:  # 400: already running or pending
                raise

    def user_lab(self, name: str) -> HubUserLab:
        return HubUserLab(self, name)

    # -- the browser side ----------------------------------------------------------------
    def login(self, page: Any, name: str) -> None:
        """Log ``name`` in on the Hub's login page; return once their JupyterLab has loaded
        (the Hub spawns the server, then OAuth hands the browser to it)."""
        page.goto(self.url + "hub/login", timeout=LAB_TIMEOUT)
        page.fill("input[name='username']", name)
        page.fill("input[name='password']", self.password)
        page.click("input[type='submit'], button[type='submit']")
        page.wait_for_url(f"**/user/{name}/lab**", timeout=(SPAWN_TIMEOUT + 30) * 1000)
        page.wait_for_selector("#jupyter-config-data", state="attached", timeout=LAB_TIMEOUT)


class _UserServer:
    """What :class:`tests.e2e.lab.Lab` reads from a LiveServer, for one Hub user's server."""

    def __init__(self, hub: LiveJupyterHub, name: str) -> None:
        self.hub = hub
        self.name = name
        home = hub.home / name
        # the single-user server runs with HOME=<home> and no JUPYTER_* variables
        self.dirs = {
            "work": home,
            "config": home / ".jupyter",
            "runtime": home / ".local" / "share" / "jupyter" / "runtime",
        }
        # the browser authenticates with its Hub login (cookie): no token in page URLs
        self.token = ""

    @property
    def url(self) -> str:
        return f"{self.hub.url}user/{self.name}/"


class HubUserLab(Lab):
    """One user's single-user server, behind the proxy, driven like :class:`Lab`."""

    def __init__(self, hub: LiveJupyterHub, name: str) -> None:
        super().__init__(_UserServer(hub, name))  # type: ignore[arg-type]
        self.hub = hub
        self.name = name
        self.work.mkdir(parents=True, exist_ok=True)
        Lab.prepare(self.server)

    def api(self, *parts: str, method: str = "GET", body: Any = None) -> Any:
        # the service token instead of a server token (there is none under JupyterHub)
        return self.hub.request(self.server.url + "api/" + "/".join(parts), method=method,
                                body=body)
