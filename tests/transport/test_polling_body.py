"""Polling bodies above ``max_payload``: an Engine.IO 413 for that client, its session closed,
never more than about ``max_payload`` bytes held, and everyone else served meanwhile.

Before the body was streamed, Tornado cut such a connection (``max_body_size``) before the
handler ran: no answer, and the session stayed open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from jupyter_sio import HubServer
from jupyter_sio.transport.tornado import EngineIOHandler, engineio_route

from .conftest import make_hub
from .raw import (
    DEADLINE,
    EIO,
    RawConnection,
    Reference,
    Response,
    chunked,
    get_request,
    handshake,
    poll_status,
    post_head,
    reference_clients,
)

LIMIT = 10_000
TOO_LARGE = {"code": 3, "message": "Bad request"}
UNKNOWN_SID = {"code": 1, "message": "Session ID unknown"}


class SmallDiscard(EngineIOHandler):
    """Gives up reading a refused body after 100 kB (instead of 64 MiB)."""

    max_discard = 100_000


class Served:
    def __init__(self, server: HubServer, events: list[tuple[str, object]], ref: Reference):
        self.server, self.events, self.ref = server, events, ref

    def small_discard_path(self) -> str:
        """Where a refused body is dropped after 100 kB only (SmallDiscard's route in
        Tornado; the native front end's limit is its Site's)."""
        if self.server.frontend == "tornado":
            return "/small/"
        self.server.site.max_discard = SmallDiscard.max_discard
        return "/socket.io/"

    def posts_in_progress(self) -> int:
        """POST requests whose body is still awaited."""
        if self.server.frontend == "tornado":
            return _posts_in_progress()
        native = self.server._native
        assert native is not None
        heads = [c.request_head for c in native.connections]
        return sum(1 for head in heads if head is not None and head.method == "POST")

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    async def joined_session(self) -> str:
        """A polling session that joined namespace ``/`` (so the hub sees it disconnect)."""
        sid = await handshake(self.port)
        response = await self.post(sid, b"40")
        assert response.status == 200 and response.body == b"ok", response
        joined = await poll_status(self.port, sid)
        assert joined.body.startswith(b"40{"), joined
        return sid

    async def post(self, sid: str, body: bytes) -> Response:
        conn = await RawConnection.open(self.port)
        try:
            await conn.send(post_head(self.port, sid, {"Content-Length": str(len(body))}) + body)
            return await conn.response()
        finally:
            conn.close()

    async def assert_closed_for_parse_error(self, sid: str) -> None:
        """The session is closed: the next GET gets the close packet, a GET after that
        "session unknown", and the hub saw it disconnect."""
        closing = await poll_status(self.port, sid)
        assert closing.status == 200 and closing.body == b"1"
        later = await poll_status(self.port, sid)
        assert later.status == 400 and later.json() == UNKNOWN_SID
        await asyncio.wait_for(self._disconnected(), DEADLINE)
        await self.ref.served()

    async def _disconnected(self) -> None:
        while ("disconnect", "parse error") not in self.events:
            await asyncio.sleep(0.01)


@pytest.fixture
async def served(frontend: str) -> AsyncIterator[Served]:
    hub, events = make_hub(max_payload=LIMIT, ping_interval=5, ping_timeout=20)
    server = HubServer(hub, http=frontend)  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    if frontend == "tornado":
        server.app.add_handlers(r".*", [engineio_route("/small/", server.engine, SmallDiscard)])
    assert server.port is not None
    async with reference_clients(hub, server.port) as ref:
        yield Served(server, events, ref)
    await server.stop()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def _posts_in_progress() -> int:
    """Requests of our handler whose POST body is still awaited (Tornado's request task)."""
    count = 0
    for task in asyncio.all_tasks():
        frame = getattr(task.get_coro(), "cr_frame", None)
        handler = frame.f_locals.get("self") if frame is not None else None
        if isinstance(handler, EngineIOHandler) and handler.request.method == "POST":
            count += 1
    return count


# -- bodies with a Content-Length --------------------------------------------------------------
@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT, 1000 * LIMIT], ids=["+1", "10x", "1000x"])
async def test_oversized_body_gets_413_and_closes_the_session(served: Served, size: int) -> None:
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    # Written whole before reading, as simple clients do: the server must read (and drop)
    # the rest for this client to get its answer at all.
    await conn.send(post_head(served.port, sid, {"Content-Length": str(size)}) + b"4" * size)
    response = await conn.response()
    assert response.status == 413
    assert response.json() == TOO_LARGE
    # The body was read to its end, so the connection stays usable for the next request.
    await conn.send(get_request(served.port, EIO))
    assert (await conn.response()).body.startswith(b"0{")
    conn.close()
    await served.assert_closed_for_parse_error(sid)


async def test_a_body_of_exactly_max_payload_is_accepted(served: Served) -> None:
    sid = await served.joined_session()
    prefix, suffix = b'42["echo","', b'"]'
    body = prefix + b"x" * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body) == LIMIT
    response = await served.post(sid, body)
    assert response.status == 200 and response.body == b"ok"
    assert ("disconnect", "parse error") not in served.events


async def test_lying_content_length_is_answered_before_the_body(served: Served) -> None:
    """A Content-Length of a terabyte, and only 20 kB sent: the answer must not wait."""
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    await conn.send(post_head(served.port, sid, {"Content-Length": str(10**12)}) + b"4" * 20_000)
    response = await conn.response()
    assert response.status == 413 and response.json() == TOO_LARGE
    conn.close()
    await served.assert_closed_for_parse_error(sid)


async def test_declared_size_alone_is_enough_to_refuse(served: Served) -> None:
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    await conn.send(post_head(served.port, sid, {"Content-Length": str(LIMIT + 1)}))
    response = await conn.response()  # no byte of the body was sent
    assert response.status == 413 and response.json() == TOO_LARGE
    conn.close()
    await served.assert_closed_for_parse_error(sid)


async def test_expect_100_continue_gets_the_413_instead(served: Served) -> None:
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    headers = {"Content-Length": str(10 * LIMIT), "Expect": "100-continue"}
    await conn.send(post_head(served.port, sid, headers))
    response = await conn.response()
    assert response.status == 413 and response.json() == TOO_LARGE  # not "100 Continue"
    assert await conn.closed_by_server()
    await served.assert_closed_for_parse_error(sid)


# -- chunked bodies (no Content-Length) ------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "chunk"),
    [(LIMIT + 1, 1000), (10 * LIMIT, 4096), (1000 * LIMIT, 65536)],
    ids=["+1", "10x", "1000x"],
)
async def test_oversized_chunked_body_gets_413(served: Served, size: int, chunk: int) -> None:
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    head = post_head(served.port, sid, {"Transfer-Encoding": "chunked"})
    await conn.send(head + chunked(b"4" * size, chunk))
    response = await conn.response()
    assert response.status == 413 and response.json() == TOO_LARGE
    await conn.send(get_request(served.port, EIO))  # still a usable connection
    assert (await conn.response()).body.startswith(b"0{")
    conn.close()
    await served.assert_closed_for_parse_error(sid)


async def test_chunked_body_that_never_ends_is_answered_once_too_large(served: Served) -> None:
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    head = post_head(served.port, sid, {"Transfer-Encoding": "chunked"})
    body = chunked(b"4" * (2 * LIMIT), 1000)[: -len(b"0\r\n\r\n")]  # no last chunk
    await conn.send(head + body)
    response = await conn.response()
    assert response.status == 413 and response.json() == TOO_LARGE
    conn.close()
    await served.assert_closed_for_parse_error(sid)


async def test_small_chunked_body_is_delivered(served: Served) -> None:
    sid = await handshake(served.port)
    conn = await RawConnection.open(served.port)
    head = post_head(served.port, sid, {"Transfer-Encoding": "chunked"})
    await conn.send(head + chunked(b"40", 1))
    response = await conn.response()
    conn.close()
    assert response.status == 200 and response.body == b"ok"
    assert (await poll_status(served.port, sid)).body.startswith(b"40{")


# -- bounds ----------------------------------------------------------------------------------
async def test_past_max_discard_the_connection_is_closed(served: Served) -> None:
    """The refused body is read and dropped up to ``max_discard``, then the server hangs up.
    This client reads while it writes, so it has its 413 before the connection goes."""
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    size = 100 * LIMIT + SmallDiscard.max_discard
    head = (
        f"POST {served.small_discard_path()}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{served.port}\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    await conn.send(head)

    async def write_body() -> None:
        block = b"4" * 65536
        try:
            for _ in range(size // len(block) + 1):
                await conn.send(block)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server hung up, as it should

    writer = asyncio.ensure_future(write_body())
    response = await conn.response()
    assert response.status == 413 and response.json() == TOO_LARGE
    assert await conn.closed_by_server()
    await asyncio.wait_for(writer, DEADLINE)
    conn.close()
    await served.assert_closed_for_parse_error(sid)


async def test_a_client_that_leaves_mid_body_is_forgotten(served: Served) -> None:
    """A POST whose client goes away before the body ends leaves no request waiting."""
    sid = await served.joined_session()
    conn = await RawConnection.open(served.port)
    await conn.send(post_head(served.port, sid, {"Content-Length": "5000"}) + b"4" * 100)
    await asyncio.wait_for(_until(lambda: served.posts_in_progress() == 1), DEADLINE)
    conn.close()
    await asyncio.wait_for(_until(lambda: served.posts_in_progress() == 0), DEADLINE)
    # The session itself is untouched and keeps working.
    response = await served.post(sid, b'42["echo","after"]')
    assert response.status == 200 and response.body == b"ok"
    await served.ref.served()


async def test_unknown_sid_with_oversized_body_is_session_unknown(served: Served) -> None:
    conn = await RawConnection.open(served.port)
    await conn.send(
        post_head(served.port, "nope", {"Content-Length": str(10 * LIMIT)}) + b"4" * (10 * LIMIT)
    )
    response = await conn.response()
    conn.close()
    assert response.status == 400 and response.json() == UNKNOWN_SID
    await served.ref.served()
