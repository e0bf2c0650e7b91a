"""Engine.IO endpoints inside a Jupyter server, behind Jupyter's own security checks.

Both handlers are ``WebSocketMixin, EngineIOHandler, JupyterHandler``: one class serves
long-polling (GET/POST) and the WebSocket upgrade on the same URL, as Engine.IO needs.

What Jupyter contributes, on every request:

- ``JupyterHandler.prepare``: the Host check (``allow_remote_access``), the user from the
  IdentityProvider (token in ``?token=`` or ``Authorization: token …``, or the login
  cookie), the XSRF check on POST for cookie-authenticated requests, and 403 (never a
  login redirect) when nobody is logged in.
- The Authorizer, on resource ``"jupyter_sio"``: ``read`` is needed to connect at all,
  ``write`` lets the user publish (``sio:publish``), ``execute`` lets a script open the
  kernel link with the user's credentials (kernel powers: emit anywhere, handle events...).
- Jupyter's Origin policy: same origin, token-authenticated requests, and
  ``ServerApp.allow_origin`` / ``allow_origin_pat`` pass; a cross-origin request carrying only
  a cookie is refused (XSRF is never checked on a WebSocket GET, so this is the defence
  against cross-site WebSocket hijacking). ``JupyterSioApp.cors_allowed_origins`` can add
  origins explicitly.

Every refusal is an Engine.IO JSON error (``{"code": 4, "message": "Forbidden", ...}``),
never Jupyter's HTML error page.

The kernel link (:class:`JupyterKernelLinkHandler`) also takes the per-server secret in
``X-Jupyter-Sio-Token``: a kernel has no cookie (and under JupyterHub no usable token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.client import responses
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server import CallContext
from jupyter_server.auth.decorator import allow_unauthenticated, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import origin_matches_pat
from tornado import httputil, web
from tornado.websocket import WebSocketHandler, WebSocketProtocol

from ..hub.sio_connection import Identity
from ..protocol.link_codec import KERNEL_HEADER, SESSION_HEADER, TOKEN_HEADER
from ..transport.eio_connection import EngineServer
from ..transport.kernel_link import KernelLinkMixin, kernel_identity
from ..transport.tornado import (
    FORBIDDEN,
    EngineError,
    EngineIOHandler,
    error_body,
    error_status,
)

#: Keys the credential hashes of one server process (they never leave it).
_PRINCIPAL_KEY = secrets.token_bytes(32)

if TYPE_CHECKING:
    from jupyter_server.auth.identity import User

#: The resource name the extension asks the Authorizer about (actions read, write, execute).
AUTH_RESOURCE = "jupyter_sio"


def is_upgrade(request: httputil.HTTPServerRequest) -> bool:
    """Whether ``request`` asks for a WebSocket upgrade."""
    return request.headers.get("Upgrade", "").lower() == "websocket"


def release_call_context() -> None:
    """Take the handler out of Jupyter's ``CallContext`` once its upgrade is accepted.

    ``JupyterHandler.prepare`` stores the handler in a context variable, and every callback
    the connection's socket schedules afterwards (asyncio copies the current context into
    each handle: the socket's reader, timers, tasks) would keep the handler, its request
    and Tornado's IOStream alive for the connection's lifetime (~11 KiB per idle
    WebSocket). All of Jupyter's checks (Host, identity, Authorizer, Origin) have run by
    then; the connection is the hub's, not the request's.
    """
    CallContext.set(CallContext.JUPYTER_HANDLER, None)


class JupyterEngineIOBase(WebSocketMixin, EngineIOHandler, JupyterHandler):  # type: ignore[misc]
    """What both endpoints share: Jupyter's prepare, Origin policy, headers and JSON errors.

    The MRO is ``WebSocketMixin → EngineIOHandler → WebSocketHandler → JupyterHandler``.
    ``WebSocketMixin.prepare`` would pass ``_redirect_to_login`` on to
    ``EngineIOHandler.prepare``, so :meth:`prepare` names ``EngineIOHandler.prepare``, which
    runs Jupyter's ``prepare`` as :meth:`check_request`: request bodies are streamed, and
    Jupyter's checks (XSRF on POST included) run before any of a body is read, and before an
    oversized polling body is refused (a refusal runs ``post`` early, with its decorators).
    """

    auth_resource = AUTH_RESOURCE

    # Engine.IO has its own heartbeat (HubConfig.ping_interval): no WebSocket-level pings.
    # (WebSocketMixin's ping properties, in milliseconds, would also shadow Tornado's, in
    # seconds, which makes Tornado warn about every connection.)
    @property
    def ping_interval(self) -> float:
        return 0

    @property
    def ping_timeout(self) -> float:
        return 0

    async def prepare(self) -> None:  # type: ignore[override]
        await EngineIOHandler.prepare(self)

    async def check_request(self) -> None:
        # Host check, identity, CORS headers, XSRF on POST; 403 instead of a login redirect.
        await JupyterHandler.prepare(self, _redirect_to_login=False)

    def set_default_headers(self) -> None:
        # Jupyter's security headers suit polling responses; a WebSocket handshake gets none
        # (as in Jupyter's kernel WebSocket handler).
        if not is_upgrade(self.request):
            JupyterHandler.set_default_headers(self)

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        release_call_context()
        return super().get_websocket_protocol()  # type: ignore[no-any-return]

    # -- Origin policy -----------------------------------------------------------------
    def origin_allowed(self, origin: str) -> bool:
        """Jupyter's Origin policy, plus the origins listed in ``cors_allowed_origins``."""
        if origin and self.server.config.origin_allowed(origin):
            return True
        if is_upgrade(self.request):
            return bool(WebSocketMixin.check_origin(self, origin or None))
        return JupyterHandler.check_origin(self)

    def check_origin(self, origin: str | None = None) -> bool:  # type: ignore[override]
        # Tornado calls this for the WebSocket handshake, JupyterHandler.check_xsrf_cookie
        # without an argument for cookie-authenticated POSTs.
        if origin is None:
            origin = self.get_origin()
        return self.origin_allowed(origin or "")

    def _refuse_cross_origin_websocket(self) -> bool:
        """Answer a refused cross-origin upgrade with a JSON 403 (before Tornado's text one)."""
        origin = self.get_origin()
        if is_upgrade(self.request) and origin and not self.origin_allowed(origin):
            self._engine_error(EngineError(FORBIDDEN, 403, "cross-origin WebSocket refused"))
            return True
        return False

    def _preflight(self) -> None:
        """CORS preflight: only for origins the deployment allows explicitly."""
        origin = self.request.headers.get("Origin", "")
        allow_origin = self.allow_origin
        explicit = bool(origin) and (
            self.server.config.origin_allowed(origin)
            or allow_origin in ("*", origin)
            or bool(self.allow_origin_pat and origin_matches_pat(self.allow_origin_pat, origin))
        )
        if not explicit:
            self._engine_error(EngineError(FORBIDDEN, 403, "origin not allowed"))
            return
        self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("Access-Control-Allow-Credentials", "true")
        self.set_header("Vary", "Origin")
        self.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.set_header(
            "Access-Control-Allow-Headers",
            self.request.headers.get(
                "Access-Control-Request-Headers", "authorization, content-type, x-xsrftoken"
            ),
        )
        self.set_status(204)
        self.finish()

    # -- errors ------------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors raised by Jupyter (403 from auth or XSRF, 404 from the Origin check) and
        uncaught ones answer in Engine.IO's JSON shape, not as Jupyter's HTML page."""
        status, code = error_status(status_code)
        detail = responses.get(status_code, "Error")
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and isinstance(exc_info[1], web.HTTPError):
            detail = exc_info[1].log_message or exc_info[1].reason or detail
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(error_body(code, detail if status == status_code else None))


class JupyterEngineIOHandler(JupyterEngineIOBase):
    """The browser endpoint ``<base_url><path>/socket.io/``, behind Jupyter's auth."""

    def initialize(self, server: EngineServer) -> None:  # type: ignore[override]
        super().initialize(server)
        self._identity: Identity | None = None

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not await self._authorize() or self._refuse_cross_origin_websocket():
            return
        await super().get(*args, **kwargs)

    @ws_authenticated
    async def post(self, *args: Any, **kwargs: Any) -> None:
        # XSRF for cookie-authenticated POSTs was enforced by JupyterHandler.prepare.
        if not await self._authorize():
            return
        await super().post(*args, **kwargs)

    @allow_unauthenticated
    def options(self, *args: Any) -> None:
        """CORS preflight (carries no credentials, so it cannot be authenticated)."""
        self._preflight()

    def authenticate(self) -> Identity:
        if self._identity is None:
            raise EngineError(FORBIDDEN, 403)
        return self._identity

    async def _authorize(self) -> bool:
        """Map the Jupyter user onto an :class:`Identity`; answer 403 if it may not read."""
        try:
            self._identity = await self._jupyter_identity()
        except EngineError as exc:
            self._engine_error(exc)
            return False
        return True

    async def _allowed(self, user: User, action: str) -> bool:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, user, action, AUTH_RESOURCE)
        )
        return bool(allowed)

    async def _jupyter_identity(self) -> Identity:
        user: User | None = self.current_user
        if user is None:
            raise EngineError(FORBIDDEN, 403)
        if not await self._allowed(user, "read"):
            self.log.warning(
                "jupyter_sio: user %s is not authorized to read resource %r",
                user.username,
                AUTH_RESOURCE,
            )
            raise EngineError(FORBIDDEN, 403, "not authorized")
        principal = self._principal(user)
        sid = self.get_query_argument("sid", None)
        if sid is not None:
            # A later request of an existing session keeps the identity of its handshake,
            # but only with the same credentials: the same token (with the server's shared
            # token Jupyter makes a new anonymous user per cookie-less request, so the name
            # cannot be compared) or the same logged-in user. Anyone else who learned the
            # sid is refused, whatever their own rights.
            conn = self.server.get(sid)
            client = conn.client if conn is not None else None
            if client is not None:
                owner = client.handshake.user
                if not hmac.compare_digest(owner.principal, principal):
                    self.log.warning("jupyter_sio: user %s used another session's sid",
                                     user.username)
                    raise EngineError(FORBIDDEN, 403, "this session belongs to someone else")
                return owner
        return Identity(
            name=user.username,
            display_name=user.display_name,
            can_subscribe=True,
            can_emit=await self._allowed(user, "write"),
            powers=await self._allowed(user, "execute"),
            principal=principal,
        )

    def _principal(self, user: User) -> str:
        """Who presented which credentials, as an opaque key (never logged or shown)."""
        provider = self.identity_provider
        if not provider.auth_enabled:
            return "open"  # no authentication at all: nothing to tell apart
        if provider.is_token_authenticated(self):
            token = (provider.get_token(self) or "").encode()
            return "token:" + hmac.new(_PRINCIPAL_KEY, token, hashlib.sha256).hexdigest()
        return "user:" + user.username


class JupyterKernelLinkHandler(KernelLinkMixin, JupyterEngineIOBase):
    """The kernel link ``<base_url><path>/kernel/``: WebSocket only, link frames.

    Kernels the server started present the per-server secret in ``X-Jupyter-Sio-Token``
    (they have no Jupyter credentials, hence ``@allow_unauthenticated``). Scripts and other
    processes may instead authenticate as a Jupyter user (the server token, a login cookie)
    who has ``execute`` permission on resource ``jupyter_sio``: the link gives kernel powers.
    """

    def initialize(  # type: ignore[override]
        self, server: EngineServer, secret: str = "", users: bool = True
    ) -> None:
        super().initialize(server)
        self.secret = secret
        self.users = users
        self._identity: Identity | None = None

    @allow_unauthenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not is_upgrade(self.request):
            self._engine_error(EngineError(FORBIDDEN, 403, "the kernel link is WebSocket only"))
            return
        try:
            self._identity = await self._link_user()
        except EngineError as exc:
            self.log.warning("jupyter_sio: refused kernel link: %s", exc)
            self._engine_error(exc)
            return
        if self._refuse_cross_origin_websocket():
            return
        await WebSocketHandler.get(self, *args, **kwargs)

    @allow_unauthenticated
    async def post(self, *args: Any, **kwargs: Any) -> None:
        self._engine_error(EngineError(FORBIDDEN, 403, "the kernel link is WebSocket only"))

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        release_call_context()
        return KernelLinkMixin.get_websocket_protocol(self)

    @allow_unauthenticated
    def options(self, *args: Any) -> None:
        self._engine_error(EngineError(FORBIDDEN, 403, "the kernel link is WebSocket only"))

    async def _link_user(self) -> Identity:
        if TOKEN_HEADER in self.request.headers:
            return kernel_identity(self.request.headers, self.secret)
        user: User | None = self.current_user
        if user is None:
            raise EngineError(FORBIDDEN, 403, "bad or missing kernel secret")
        if not self.users:
            raise EngineError(FORBIDDEN, 403, "this server gives kernel powers to its kernels "
                              "only (JupyterSioApp.user_kernel_link = False)")
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, user, "execute", AUTH_RESOURCE)
        )
        if not allowed:
            raise EngineError(
                FORBIDDEN, 403, f"user {user.username} may not execute {AUTH_RESOURCE}"
            )
        kernel_id = self.request.headers.get(KERNEL_HEADER) or None
        return Identity(
            name=user.username,
            display_name=user.display_name,
            kernel_id=kernel_id,
            session=self.request.headers.get(SESSION_HEADER) or None,
            powers=True,
        )

    def authenticate(self) -> Identity:
        if self._identity is None:
            raise EngineError(FORBIDDEN, 403)
        return self._identity

    def link_identity(self) -> Identity:
        return self.authenticate()


class JupyterKernelSocketIOHandler(JupyterEngineIOBase):
    """``<base_url><path>/kernel-sio/``: Engine.IO over WebSocket for a kernel's widget relay.

    The comm relay (:mod:`jupyter_sio.widgets.relay`) connects for a widget whose page cannot
    reach the hub, as a Socket.IO client: it has no Jupyter credentials, so it presents the
    kernel secret like the kernel link does. It gets a browser's rights (subscribe, publish),
    not kernel powers: kernel powers travel on the kernel link only.
    """

    def initialize(self, server: EngineServer, secret: str = "") -> None:  # type: ignore[override]
        super().initialize(server)
        self.secret = secret

    @allow_unauthenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not is_upgrade(self.request):
            self._engine_error(EngineError(FORBIDDEN, 403, "WebSocket only"))
            return
        try:
            self.authenticate()
        except EngineError as exc:
            self.log.warning("jupyter_sio: refused kernel relay: %s", exc)
            self._engine_error(exc)
            return
        if self._refuse_cross_origin_websocket():
            return
        await super().get(*args, **kwargs)

    @allow_unauthenticated
    async def post(self, *args: Any, **kwargs: Any) -> None:
        self._engine_error(EngineError(FORBIDDEN, 403, "WebSocket only"))

    @allow_unauthenticated
    def options(self, *args: Any) -> None:
        self._engine_error(EngineError(FORBIDDEN, 403, "WebSocket only"))

    def authenticate(self) -> Identity:
        kernel = kernel_identity(self.request.headers, self.secret)
        return Identity(name=kernel.name, display_name=kernel.display_name,
                        kernel_id=kernel.kernel_id, session=kernel.session, powers=False)
