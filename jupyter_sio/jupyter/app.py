"""The Jupyter server extension application: a hub inside every Jupyter server.

Installed with the package and enabled by ``jupyter_server_config.d/jupyter_sio.json``.
Configure it like any Jupyter application (``c.JupyterSioApp.ping_interval = 10`` in
``jupyter_server_config.py``, or ``--JupyterSioApp.ping_interval=10`` on the command line).

Routes (under the server's ``base_url``):

- ``<path>/socket.io/``: Engine.IO for browsers and other clients, behind Jupyter's
  authentication (see :mod:`jupyter_sio.jupyter.handlers`);
- ``<path>/kernel/``: the kernel link, WebSocket only, authenticated by a random per-server
  secret (``kernel_link = False`` removes it).

Kernels find the hub through the environment they inherit from the server:
``JUPYTER_SIO_TOKEN`` (the kernel secret, set when the extension loads) and
``JUPYTER_SIO_URL`` (``http://127.0.0.1:<port><base_url><path>/``, set once the server
listens). Other extensions reach the hub as ``web_app.settings["jupyter_sio_hub"]``.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import secrets
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_path_join
from traitlets import Any as AnyTrait
from traitlets import Bool, Float, Int, List, TraitError, Type, Unicode, validate

from .. import __version__
from ..config import TRANSPORTS, HubConfig
from ..exceptions import ConfigError
from ..hub.adapter import Adapter
from ..hub.hub import Hub
from ..transport.eio_connection import EngineServer
from .handlers import (
    JupyterEngineIOHandler,
    JupyterKernelLinkHandler,
    JupyterKernelSocketIOHandler,
)

#: Environment variables the extension sets for the kernels the server starts.
TOKEN_ENV = "JUPYTER_SIO_TOKEN"
URL_ENV = "JUPYTER_SIO_URL"

#: Traits that map one to one onto :class:`~jupyter_sio.config.HubConfig` fields.
HUB_TRAITS = (
    "ping_interval",
    "ping_timeout",
    "max_payload",
    "max_buffer_packets",
    "max_buffer_bytes",
    "send_timeout",
    "ack_timeout",
    "max_rooms",
    "recovery_window",
    "recovery_max_packets",
    "recovery_max_bytes",
    "parser",
    "transports",
    "cors_allowed_origins",
)

_DEFAULTS = HubConfig()
_PATH_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@-]+(/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*")
_LOOPBACK_ALIASES = ("", "0.0.0.0", "::", "localhost")
_PATH_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"
)


class JupyterSioApp(ExtensionApp):
    """Serves a :class:`~jupyter_sio.hub.hub.Hub` from the Jupyter server."""

    name = "jupyter_sio"
    description = "Socket.IO-style real-time messaging for Jupyter"

    path = Unicode(
        "jupyter-sio",
        config=True,
        help="""URL prefix of the hub under the server's base_url: browsers connect to
        <base_url><path>/socket.io/ and kernels to <base_url><path>/kernel/.""",
    )
    ping_interval = Float(
        _DEFAULTS.ping_interval,
        config=True,
        help="""Seconds between Engine.IO pings. Keep it below the idle timeout of proxies in
        front of the server (often 60 s).""",
    )
    ping_timeout = Float(
        _DEFAULTS.ping_timeout,
        config=True,
        help="Seconds a client has to answer a ping before it is disconnected.",
    )
    recovery_window = Float(
        _DEFAULTS.recovery_window,
        config=True,
        help="""Seconds a browser's session (id, rooms, data and what it misses) is kept
        after its connection drops, for Socket.IO's connection-state recovery; 0 (the
        default) turns it off. With it on, the widgets recover a dropped connection without
        missing an update (their socket.io-client takes its session back and gets what it
        missed, keyed values as their newest), and kernel links likewise (what a kernel
        misses while its link is down, and its emits the hub did not read, are kept).
        Other Socket.IO clients see an offset as the last argument of each event (as with
        Node's server); the widgets and kernels take it off.""",
    )
    recovery_max_packets = Int(
        _DEFAULTS.recovery_max_packets,
        config=True,
        help="""Packets a namespace keeps for recovering browsers, and a dropped kernel link
        keeps for its kernel; past that, the client gets a fresh session (logged).""",
    )
    recovery_max_bytes = Int(
        _DEFAULTS.recovery_max_bytes,
        config=True,
        help="Bytes of packets kept, like recovery_max_packets.",
    )
    parser = Unicode(
        _DEFAULTS.parser,
        config=True,
        help="""The Socket.IO parser of every browser client: "default" (JSON text, binary
        attachments) or "msgpack" (socket.io-msgpack-parser; needs `pip install msgpack`).
        The widgets follow it (page config); other clients must use the same parser.
        Kernels keep their link's format (the hub transcodes).""",
    )
    max_rooms = Int(
        _DEFAULTS.max_rooms,
        config=True,
        help="Rooms one browser socket may subscribe to (kernels are not limited).",
    )
    max_payload = Int(
        _DEFAULTS.max_payload,
        config=True,
        help="""Largest Engine.IO packet or polling request body in bytes
        (Socket.IO's maxHttpBufferSize); a client sending more is disconnected.""",
    )
    max_buffer_packets = Int(
        _DEFAULTS.max_buffer_packets,
        config=True,
        help="Outbound packets queued per client before reliable emits wait for room.",
    )
    max_buffer_bytes = Int(
        _DEFAULTS.max_buffer_bytes,
        config=True,
        help="Outbound bytes queued per client before reliable emits wait for room.",
    )
    send_timeout = Float(
        _DEFAULTS.send_timeout,
        config=True,
        help="""Seconds a reliable emit waits for room in a slow client's buffer before it
        fails (single client) or the slow client is disconnected (broadcast).""",
    )
    ack_timeout = Float(
        _DEFAULTS.ack_timeout,
        config=True,
        help="Default seconds to wait for a client's acknowledgement.",
    )
    transports = List(
        Unicode(),
        default_value=list(_DEFAULTS.transports),
        config=True,
        help=f"Allowed Engine.IO transports, a non-empty subset of {list(TRANSPORTS)}.",
    )
    cors_allowed_origins = List(
        Unicode(),
        default_value=[],
        config=True,
        help="""Origins allowed in addition to Jupyter's own Origin policy
        (ServerApp.allow_origin / allow_origin_pat; same-origin and token-authenticated
        requests always pass). Such origins may use the hub with the user's login cookie,
        so list only origins you trust; "*" allows any origin.""",
    )
    kernel_link = Bool(
        True,
        config=True,
        help="""Serve the kernel link at <base_url><path>/kernel/ and give kernels the
        JUPYTER_SIO_URL and JUPYTER_SIO_TOKEN environment variables.""",
    )
    admin_ui = Bool(
        False,
        config=True,
        help="""Serve the official Socket.IO Admin UI (@socket.io/admin-ui) on namespace
        /admin of the hub, for users with `execute` on resource "jupyter_sio" (kernel
        powers). Point the UI at <server>/ with path <base_url>jupyter-sio/socket.io/ and
        the server token (or open it from a page logged in to this server).""",
    )
    user_kernel_link = Bool(
        True,
        config=True,
        help="""Let Jupyter users with `execute` on resource "jupyter_sio" open the kernel
        link with their own credentials (scripts get kernel powers: emit anywhere, list
        and disconnect sockets, handle events). False: only kernels this server started
        (they hold the kernel secret) get kernel powers; browsers and scripts keep read and
        write. Set it to False on shared servers whose Authorizer grants every user every
        action (Jupyter's default, e.g. JupyterHub with shared access).""",
    )
    kernel_secret = Unicode(
        "",
        config=True,
        help="""The secret kernels present on the kernel link. Empty (the default): a random
        one per server start. Set it (in a config file, not on the command line) only to
        let kernels that this server did not start reach the hub, e.g. nbclient runs.""",
    )
    room_policy = AnyTrait(
        None,
        allow_none=True,
        config=True,
        help="""Which rooms browsers may subscribe to, publish to and list: a callable
        `policy(identity, action, room) -> bool` or its import string ("module.function").
        `identity` has the Jupyter user's name and permissions; `action` is "subscribe",
        "publish" or "presence"; `room` is None for a namespace-wide publish. The Authorizer
        (resource "jupyter_sio") is checked first; kernels are not restricted.""",
    )
    redis_url = Unicode(
        "",
        config=True,
        help="""Spread the hub over several servers through Redis (e.g.
        redis://127.0.0.1:6379/0): every server with the same URL and prefix acts as one hub
        for broadcasts, rooms and retained values. Needs `pip install jupyter_sio[redis]`.
        Overrides adapter_class.""",
    )
    redis_prefix = Unicode("jupyter-sio", config=True, help="Redis channel and key prefix.")
    adapter_class = Type(
        default_value=Adapter,
        klass=Adapter,
        config=True,
        help="""Room adapter of each namespace (a class or an import string); the default
        keeps rooms in this process.""",
    )

    @validate("path")
    def _validate_path(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).strip("/")
        if not _PATH_RE.fullmatch(value):
            raise TraitError(
                f"JupyterSioApp.path must be a non-empty URL path, got {proposal['value']!r}"
            )
        return value

    # -- configuration -------------------------------------------------------------------
    def check_config(self) -> None:
        """Refuse options under ``JupyterSioApp`` that are not traits (misspellings)."""
        section = self.config.get(type(self).__name__, {})
        known = set(self.class_trait_names(config=True))
        for key in section:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"unknown option JupyterSioApp.{key}{hint}")

    def hub_config(self) -> HubConfig:
        """The traits as a :class:`HubConfig`; an invalid value raises ``ConfigError``
        naming the trait."""
        values: dict[str, Any] = {name: getattr(self, name) for name in HUB_TRAITS}
        values["transports"] = tuple(values["transports"])
        values["cors_allowed_origins"] = tuple(values["cors_allowed_origins"])
        for name, value in values.items():
            try:
                HubConfig(**{name: value})
            except (ConfigError, TypeError) as exc:
                raise ConfigError(f"invalid JupyterSioApp.{name} = {value!r}: {exc}") from None
        return HubConfig(**values)

    def _room_policy(self) -> Any:
        policy = self.room_policy
        if isinstance(policy, str) and policy:
            module, _, name = policy.rpartition(".")
            try:
                policy = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError, ValueError) as exc:
                raise ConfigError(
                    f"JupyterSioApp.room_policy: cannot import {policy!r}: {exc}"
                ) from None
        if policy is not None and not callable(policy):
            raise ConfigError(f"JupyterSioApp.room_policy must be callable, got {policy!r}")
        return policy or None

    # -- ExtensionApp hooks ----------------------------------------------------------------
    def initialize_settings(self) -> None:
        """Build the hub and its Engine.IO server; make the kernel secret."""
        if not getattr(self, "_linked", False):
            # Linking (which loads the traits) failed, e.g. a value of the wrong type: the
            # server logged the TraitError and would load the extension half-configured.
            raise ConfigError(
                "the JupyterSioApp configuration could not be applied (see the error linking "
                "the extension above); the hub is not started"
            )
        self.check_config()
        config = self.hub_config()
        adapter: Any = self.adapter_class
        if self.redis_url:
            from ..hub.redis_adapter import redis_adapter

            adapter = redis_adapter(self.redis_url, prefix=self.redis_prefix)
        self.hub = Hub(config, adapter=adapter, room_policy=self._room_policy())
        self.hub.enable_browser_events()
        if self.admin_ui:
            # Jupyter has authenticated the connection; kernel powers decide, no password.
            self.hub.instrument(auth=False, admit=lambda identity: identity.powers)
        self.engine = EngineServer(self.hub)
        self.secret = (self.kernel_secret or secrets.token_urlsafe(32)) if self.kernel_link else ""
        self._saved_environ: dict[str, str | None] = {}
        if self.kernel_link:
            self._set_environ(TOKEN_ENV, self.secret)
        self.settings["jupyter_sio_hub"] = self.hub
        self.settings["jupyter_sio_engine"] = self.engine
        self.log.info(
            "jupyter_sio hub at %s (kernel link %s)",
            self.hub_url_path,
            "on" if self.kernel_link else "off",
        )

    def initialize_handlers(self) -> None:
        """Register the routes (ExtensionApp prefixes them with base_url)."""
        path = re.escape(self.path)
        routes: list[tuple[str, type[Any], dict[str, Any]]] = [
            (rf"/{path}/socket\.io/?", JupyterEngineIOHandler, {"server": self.engine})
        ]
        if self.kernel_link:
            link = {"server": self.engine, "secret": self.secret}
            users = {**link, "users": self.user_kernel_link}
            routes.append((rf"/{path}/kernel/?", JupyterKernelLinkHandler, users))
            routes.append((rf"/{path}/kernel-sio/?", JupyterKernelSocketIOHandler, link))
        self.handlers.extend(routes)
        assert self.serverapp is not None
        web_app = self.serverapp.web_app
        base_url = web_app.settings["base_url"]
        decoded = decode_path_chars(base_url)
        if decoded != base_url:
            # Some clients (aiohttp, hence python-socketio) decode escapes of characters
            # allowed in a path, e.g. "/a%40b/" becomes "/a@b/": accept that spelling too.
            web_app.add_handlers(  # type: ignore[no-untyped-call]
                ".*$",
                [(re.escape(decoded.rstrip("/")) + route, h, kw) for route, h, kw in routes],
            )
        page_config = self.serverapp.web_app.settings.setdefault("page_config_data", {})
        page_config["jupyterSio"] = {
            "path": self.hub_url_path,
            "socketioPath": url_path_join(self.hub_url_path, "socket.io/"),
            "parser": self.parser,
            "version": __version__,
        }

    async def _start_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        """Runs once the server listens: now its port is known."""
        await self.hub.start()
        if not self.kernel_link:
            return
        url = self.local_url(serverapp)
        if url is None:
            self.log.warning(
                "jupyter_sio: the server listens on a UNIX socket; kernels get no %s", URL_ENV
            )
            return
        self._set_environ(URL_ENV, url)
        self.log.info("jupyter_sio: kernels reach the hub at %s", url)

    async def stop_extension(self) -> None:
        """Disconnect every client, close the adapters, restore the environment."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            await engine.close()
        hub = getattr(self, "hub", None)
        if hub is not None:
            await hub.close()
        for name, previous in getattr(self, "_saved_environ", {}).items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        self._saved_environ = {}

    # -- helpers ---------------------------------------------------------------------------
    @property
    def hub_url_path(self) -> str:
        """``<base_url><path>/``, the hub's URL path (what browsers and kernels append to)."""
        assert self.serverapp is not None
        base_url = self.serverapp.web_app.settings["base_url"]
        return str(url_path_join(base_url, self.path, "/"))

    def local_url(self, serverapp: ServerApp) -> str | None:
        """The hub's URL from this machine (kernels): loopback unless bound elsewhere."""
        if serverapp.sock:
            return None
        ip = serverapp.ip
        host = "127.0.0.1" if ip in _LOOPBACK_ALIASES else ip
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if serverapp.certfile else "http"
        return f"{scheme}://{host}:{serverapp.port}{self.hub_url_path}"

    def _set_environ(self, name: str, value: str) -> None:
        if name not in self._saved_environ:
            self._saved_environ[name] = os.environ.get(name)
        os.environ[name] = value


def decode_path_chars(path: str) -> str:
    """``path`` with escapes of characters that may appear unescaped in a path decoded
    (``%40`` → ``@``), the way aiohttp/yarl normalize URLs before sending them."""
    return re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: chr(int(m[1], 16)) if chr(int(m[1], 16)) in _PATH_SAFE else m[0],
        path,
    )
