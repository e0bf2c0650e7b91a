"""Oversized polling bodies inside Jupyter: refused with 413 only after Jupyter's own checks.

Bodies are streamed, so Jupyter's ``prepare`` (identity, XSRF) runs before any of a body is
read, and the early 413 runs ``post`` with its auth decorators: a request that may not post
gets Jupyter's 403 and cannot close the session it names.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.transport.raw import RawConnection, Response, chunked

from .conftest import Server, engine_error

LIMIT = 10_000
TOO_LARGE = {"code": 3, "message": "Bad request"}


@pytest.fixture
def sio_config() -> dict[str, Any]:
    return {"max_payload": LIMIT}


async def raw_post(server: Server, sid: str, headers: dict[str, str], body: bytes) -> Response:
    url = urlsplit(server.sio_url(f"sid={sid}"))
    lines = [
        f"POST {url.path}?{url.query} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: text/plain;charset=UTF-8",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    conn = await RawConnection.open(server.port)
    try:
        await conn.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return await conn.response()
    finally:
        conn.close()


async def session_alive(server: Server, sid: str, headers: dict[str, str] | None = None) -> bool:
    """A POST with the session's own credentials (the token unless given) is accepted."""
    credentials = headers or {"Authorization": f"token {server.token}"}
    response = await server.fetch(server.sio_url(f"sid={sid}"), "POST", "40", credentials)
    return response.code == 200 and response.body == b"ok"


async def test_token_user_gets_413_and_the_session_closes(server: Server) -> None:
    auth = {"Authorization": f"token {server.token}"}
    sid, _ = await server.handshake(headers=auth)
    size = 10 * LIMIT
    response = await raw_post(server, sid, {**auth, "Content-Length": str(size)}, b"4" * size)
    assert response.status == 413 and response.json() == TOO_LARGE
    closing = await server.fetch(server.sio_url(f"sid={sid}"), headers=auth)
    assert closing.code == 200 and closing.body == b"1"  # the close packet, then...
    later = await server.fetch(server.sio_url(f"sid={sid}"), headers=auth)
    assert later.code == 400 and engine_error(later)["code"] == 1  # ...session unknown


async def test_chunked_oversized_body_gets_413(server: Server) -> None:
    auth = {"Authorization": f"token {server.token}"}
    sid, _ = await server.handshake(headers=auth)
    headers = {**auth, "Transfer-Encoding": "chunked"}
    response = await raw_post(server, sid, headers, chunked(b"4" * (3 * LIMIT), 4096))
    assert response.status == 413 and response.json() == TOO_LARGE
    assert not await session_alive(server, sid)


async def test_unauthenticated_oversized_post_is_403_and_closes_nothing(server: Server) -> None:
    sid, _ = await server.handshake(f"token={server.token}")
    # Only the headers: Jupyter answers before reading a byte of the body.
    response = await raw_post(server, sid, {"Content-Length": str(10 * LIMIT)}, b"")
    assert response.status == 403
    assert response.json()["code"] == 4
    assert await session_alive(server, sid)


async def test_cookie_post_without_xsrf_is_403_even_when_oversized(server: Server) -> None:
    cookie = await server.login()
    sid, _ = await server.handshake(headers={"Cookie": cookie})
    headers = {"Cookie": cookie, "Content-Length": str(10 * LIMIT)}
    response = await raw_post(server, sid, headers, b"")
    assert response.status == 403
    error = response.json()
    assert error["code"] == 4 and "_xsrf" in str(error["detail"])
    xsrf = await server.xsrf()
    assert await session_alive(
        server, sid, {"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf}
    )
