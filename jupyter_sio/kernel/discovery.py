"""Find the hub of the Jupyter server that started this kernel, with no configuration.

Sources, in order (see shared research, "How a kernel finds its server"):

1. ``JUPYTER_SIO_URL`` + ``JUPYTER_SIO_TOKEN``: set by the server extension for every
   kernel it starts; the kernel uses the kernel link with the per-server secret.
2. The server's runtime file ``jpserver-<JPY_PARENT_PID>.json``: its url and token open the
   kernel link as the server's user (who needs the Authorizer's ``execute`` permission).
   Skipped when the file has no token.
3. Nothing: the caller starts an embedded hub.

The kernel id comes from the connection file name (``kernel-<id>.json``); the notebook path
from ``JPY_SESSION_NAME``. Nothing here is ever written to a notebook.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import Forbidden
from ..protocol.link_codec import KERNEL_HEADER, SESSION_HEADER, TOKEN_HEADER

URL_ENV = "JUPYTER_SIO_URL"
TOKEN_ENV = "JUPYTER_SIO_TOKEN"
EXTENSION_PATH = "jupyter-sio/"


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect. ``url`` is the Engine.IO endpoint (with trailing slash)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # secrets: not shown
    source: str = "explicit"
    base: str = ""  # the extension's base URL, for clients to connect to

    @property
    def clients_url(self) -> str:
        """The Socket.IO endpoint browsers and other clients use."""
        return self.base + "socket.io/" if self.base else self.url


def kernel_id() -> str | None:
    """This kernel's id, from its connection file name, without any round trip."""
    try:
        from ipykernel.connect import get_connection_file
    except ImportError:  # not in an IPython kernel
        return None
    try:
        stem = Path(get_connection_file()).stem
    except Exception:
        return None
    return stem[len("kernel-") :] if stem.startswith("kernel-") else stem


def kernel_headers(secret: str) -> dict[str, str]:
    headers = {TOKEN_HEADER: secret}
    kid = kernel_id()
    if kid:
        headers[KERNEL_HEADER] = kid
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        headers[SESSION_HEADER] = session.encode("ascii", "replace").decode()
    return headers


def from_environment(environ: dict[str, str] | None = None) -> Endpoint | None:
    env = os.environ if environ is None else environ
    url, secret = env.get(URL_ENV), env.get(TOKEN_ENV)
    if not url or not secret:
        return None
    base = url if url.endswith("/") else url + "/"
    return Endpoint(base + "kernel/", kernel_headers(secret), source="environment", base=base)


def runtime_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        dirs.append(Path(os.environ["JUPYTER_RUNTIME_DIR"]))
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        dirs.append(Path(jupyter_runtime_dir()))
    except ImportError:
        pass
    return dirs


def from_runtime_file(environ: dict[str, str] | None = None) -> Endpoint | None:
    env = os.environ if environ is None else environ
    pid = env.get("JPY_PARENT_PID")
    if not pid:
        return None
    for directory in runtime_dirs():
        path = directory / f"jpserver-{pid}.json"
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        token = info.get("token")
        if not token or info.get("sock"):
            return None
        host = info.get("hostname") or "127.0.0.1"
        if host in ("", "0.0.0.0", "::", "localhost"):
            host = "127.0.0.1"
        scheme = "https" if info.get("secure") else "http"
        base = f"{scheme}://{host}:{info['port']}{info.get('base_url', '/')}{EXTENSION_PATH}"
        return Endpoint(
            base + "kernel/",
            {"Authorization": f"token {token}"},
            source="runtime file",
            base=base,
        )
    return None


def discover() -> list[Endpoint]:
    """Candidate endpoints in order of preference (empty: use an embedded hub)."""
    return [e for e in (from_environment(), from_runtime_file()) if e is not None]


def explain(endpoint: Endpoint, exc: BaseException) -> str:
    """Why ``endpoint`` could not be used, in terms a user can act on."""
    code = getattr(exc, "code", None)
    if isinstance(exc, Forbidden):  # open_websocket's word for a 403
        code = 403
    where = endpoint.base or endpoint.url
    if isinstance(exc, ConnectionRefusedError):
        return (f"nothing listens at {where} (is the Jupyter server running, and is this its "
                "address?)")
    if code == 403:
        return (f"{where} refused the credentials: a wrong or expired token, or a user "
                "without execute permission on jupyter_sio")
    if isinstance(code, int) and code >= 300:  # 404, or Jupyter's redirect for unknown paths
        return (f"no jupyter_sio at {where} (HTTP {code}): the URL should be the server's base "
                "URL followed by jupyter-sio/, and the jupyter_sio server extension must be "
                "enabled there")
    if isinstance(exc, TimeoutError):
        return f"{where} did not answer in time"
    return f"{where}: {exc!r}"


def why_embedded(errors: list[str]) -> str:
    """Why a kernel runs its own hub: what discovery found (or did not)."""
    if errors:
        return ("the Jupyter server's hub could not be used (" + "; ".join(errors) + ")")
    return ("no jupyter_sio server extension started this kernel (no JUPYTER_SIO_URL in its "
            "environment): install jupyter_sio where the Jupyter server runs and restart the "
            "server to use the server's hub")
