"""Jupyter's authentication, XSRF, Host and Origin rules in front of the hub, with real requests.

Every refusal must be an Engine.IO JSON error, never Jupyter's HTML page or a login redirect.
"""

from __future__ import annotations

import pytest

from .conftest import EVIL, Server, engine_error

FORBIDDEN = {"code": 4, "message": "Forbidden"}


def _forbidden(response_error: dict[str, object]) -> bool:
    return {k: response_error[k] for k in ("code", "message")} == FORBIDDEN


# -- polling handshake -----------------------------------------------------------------------
async def test_polling_without_credentials_is_403_json_not_a_redirect(server: Server) -> None:
    response = await server.fetch(server.sio_url())
    assert response.code == 403
    assert _forbidden(engine_error(response))


async def test_polling_with_wrong_token_is_403(server: Server) -> None:
    response = await server.fetch(server.sio_url("token=wrong"))
    assert response.code == 403
    assert _forbidden(engine_error(response))
    response = await server.fetch(server.sio_url(), headers={"Authorization": "token wrong"})
    assert response.code == 403


async def test_polling_with_token_in_query(server: Server) -> None:
    sid, response = await server.handshake(f"token={server.token}")
    assert sid in server.app.engine.connections
    assert response.headers["Content-Type"].startswith("text/plain")


async def test_polling_with_token_in_authorization_header(server: Server) -> None:
    sid, _response = await server.handshake(headers={"Authorization": f"token {server.token}"})
    assert sid in server.app.engine.connections


async def test_polling_session_continues_with_token_and_no_xsrf(server: Server) -> None:
    auth = {"Authorization": f"token {server.token}"}
    sid, _ = await server.handshake(headers=auth)
    post = await server.fetch(server.sio_url(f"sid={sid}"), "POST", "40", auth)
    assert post.code == 200 and post.body == b"ok", post.body
    get = await server.fetch(server.sio_url(f"sid={sid}"), headers=auth)
    assert get.code == 200 and get.body.startswith(b"40{")


# -- cookie login ----------------------------------------------------------------------------
async def test_cookie_polling_get_and_post_needs_xsrf(server: Server) -> None:
    cookie = await server.login()
    sid, _ = await server.handshake(headers={"Cookie": cookie})

    no_xsrf = await server.fetch(server.sio_url(f"sid={sid}"), "POST", "40", {"Cookie": cookie})
    assert no_xsrf.code == 403
    error = engine_error(no_xsrf)
    assert _forbidden(error) and "_xsrf" in str(error["detail"])

    xsrf = await server.xsrf()
    headers = {"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf}
    ok = await server.fetch(server.sio_url(f"sid={sid}"), "POST", "40", headers)
    assert ok.code == 200 and ok.body == b"ok"
    get = await server.fetch(server.sio_url(f"sid={sid}"), headers={"Cookie": cookie})
    assert get.code == 200 and get.body.startswith(b"40{")


async def test_cookie_polling_from_foreign_origin_is_refused(server: Server) -> None:
    cookie = await server.login()
    same = await server.fetch(server.sio_url(), headers={"Cookie": cookie, "Origin": server.origin})
    assert same.code == 200
    foreign = await server.fetch(server.sio_url(), headers={"Cookie": cookie, "Origin": EVIL})
    assert foreign.code == 403
    assert _forbidden(engine_error(foreign))


async def test_token_polling_from_foreign_origin_passes_as_in_jupyter(server: Server) -> None:
    response = await server.fetch(server.sio_url(f"token={server.token}"), headers={"Origin": EVIL})
    assert response.code == 200
    # Jupyter's own CORS rule for token-authenticated requests.
    assert response.headers.get("Access-Control-Allow-Origin") == EVIL


async def test_non_local_host_header_is_refused(server: Server) -> None:
    response = await server.fetch(
        server.sio_url(f"token={server.token}"), headers={"Host": "evil.example"}
    )
    assert response.code == 403
    assert _forbidden(engine_error(response))


async def test_preflight_from_unlisted_origin_is_refused(server: Server) -> None:
    response = await server.fetch(
        server.sio_url(),
        "OPTIONS",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert response.code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


# -- WebSocket -------------------------------------------------------------------------------
async def test_websocket_auth_and_origin_matrix(server: Server) -> None:
    ws_url = server.sio_url(transport="websocket", scheme="ws")
    assert await server.ws_status(ws_url) == 403
    assert await server.ws_status(ws_url, {"Authorization": "token wrong"}) == 403
    assert await server.ws_status(ws_url, {"Authorization": f"token {server.token}"}) == 101

    cookie = await server.login()
    assert await server.ws_status(ws_url, {"Cookie": cookie, "Origin": server.origin}) == 101
    assert await server.ws_status(ws_url, {"Cookie": cookie, "Origin": EVIL}) == 403

    token_url = server.sio_url(f"token={server.token}", transport="websocket", scheme="ws")
    assert await server.ws_status(token_url, {"Origin": EVIL}) == 101


async def test_refused_websocket_answers_engineio_json(server: Server) -> None:
    # The same refusal seen as plain HTTP (an upgrade request the client does not complete).
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    cookie = await server.login()
    response = await server.fetch(
        server.sio_url(transport="websocket"), headers={**headers, "Cookie": cookie, "Origin": EVIL}
    )
    assert response.code == 403
    assert _forbidden(engine_error(response))
    response = await server.fetch(server.sio_url(transport="websocket"), headers=headers)
    assert response.code == 403
    assert _forbidden(engine_error(response))


async def test_websocket_has_no_html_security_headers(server: Server) -> None:
    conn = await server.ws(
        server.sio_url(transport="websocket", scheme="ws"),
        {"Authorization": f"token {server.token}"},
    )
    try:
        headers = conn.headers
        assert "Content-Security-Policy" not in headers
        assert "X-Content-Type-Options" not in headers
    finally:
        conn.close()
    polling = await server.fetch(server.sio_url(f"token={server.token}"))
    assert polling.headers["X-Content-Type-Options"] == "nosniff"


# -- explicit CORS allowance -----------------------------------------------------------------
@pytest.mark.parametrize("sio_config", [{"cors_allowed_origins": ["http://app.example"]}])
async def test_cors_allowed_origins_extend_jupyters_policy(server: Server) -> None:
    preflight = await server.fetch(
        server.sio_url(),
        "OPTIONS",
        headers={"Origin": "http://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://app.example"
    cookie = await server.login()
    ws_url = server.sio_url(transport="websocket", scheme="ws")
    allowed = {"Cookie": cookie, "Origin": "http://app.example"}
    assert await server.ws_status(ws_url, allowed) == 101
    assert await server.ws_status(ws_url, {"Cookie": cookie, "Origin": EVIL}) == 403
