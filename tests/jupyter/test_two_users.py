"""Access control that holds per user: three Jupyter users with different rights on
resource ``jupyter_sio`` (alice: read, write, execute; bob: read, write; carol: read),
each with their own token, on one server.

- an event's sender is who the hub authenticated, never what the payload says, and a
  browser's ``sio:publish`` never reaches kernels;
- nobody subscribes to another socket's own room or to the hub's ``sio:`` rooms;
- Engine.IO session ids are not listed to readers, and a session continues only with the
  credentials that opened it.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from jupyter_server.auth import Authorizer, IdentityProvider, User
from tornado import web

from .conftest import TIMEOUT, RawLink, RawSio, Server

TOKENS = {"alice-token-0123456789": "alice", "bob-token-0123456789": "bob",
          "carol-token-0123456789": "carol"}
RIGHTS = {"alice": {"read", "write", "execute"}, "bob": {"read", "write"}, "carol": {"read"}}


class ThreeUsers(IdentityProvider):
    """Each user has a personal token (as JupyterHub's API tokens are)."""

    def get_user(self, handler: web.RequestHandler) -> User | None:
        match = re.match(r"token\s+(\S+)", handler.request.headers.get("Authorization", ""))
        token = match.group(1) if match else handler.get_argument("token", "")
        name = TOKENS.get(token)
        if name is None:
            return None
        handler._token_authenticated = True  # type: ignore[attr-defined]  # as Jupyter's own
        return User(username=name, name=name, display_name=name.title())


class RightsPerUser(Authorizer):
    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        return resource != "jupyter_sio" or action in RIGHTS.get(user.username, set())


pytestmark = [
    pytest.mark.parametrize("identity_provider_class", [ThreeUsers]),
    pytest.mark.parametrize("authorizer_class", [RightsPerUser]),
]


def token_of(name: str) -> str:
    return next(t for t, n in TOKENS.items() if n == name)


async def browser(server: Server, name: str) -> tuple[RawSio, str]:
    sio = RawSio(await server.ws(server.sio_url(transport="websocket", scheme="ws"),
                                 {"Authorization": f"token {token_of(name)}"}))
    return sio, await sio.start()


async def script(server: Server, name: str) -> RawLink:
    """A script on the kernel link with a user's own credentials (needs ``execute``)."""
    link = RawLink(await server.ws(
        server.sio_url(transport="websocket", scheme="ws", endpoint="kernel"),
        {"Authorization": f"token {token_of(name)}"}))
    await link.hello(handlers=[["/", "vote"]], rooms=[["/", "voters"]])
    return link


async def test_only_execute_opens_the_kernel_link(server: Server) -> None:
    url = server.sio_url(transport="websocket", scheme="ws", endpoint="kernel")
    statuses = {name: await server.ws_status(url, {"Authorization": f"token {token_of(name)}"})
                for name in RIGHTS}
    assert statuses == {"alice": 101, "bob": 403, "carol": 403}


async def test_the_hub_sets_the_sender_of_events_a_kernel_handles(server: Server) -> None:
    link = await script(server, "alice")
    bob, bob_sid = await browser(server, "bob")
    try:
        # bob claims to be alice in the payload: the kernel sees the hub's word
        await bob.conn.write_message('42["vote",{"user":"alice","sid":"forged"},"yes"]')
        kind, header, payload = await link.frame(("event",))
        assert (header["user"], header["sid"]) == ("bob", bob_sid)
        assert json.loads(payload or "")[1] == {"user": "alice", "sid": "forged"}
        # a publish into the kernel's room, or to the kernel's socket, never reaches it...
        kernel_sid = (await link.request("sockets", {"ns": "/", "room": "voters"}))["sockets"][0]
        for target in ("voters", kernel_sid["sid"]):
            answer = await bob.call("sio:publish", {"event": "vote", "args": ["x"], "to": target})
            assert answer["ok"] is True
        # ...and the hub's own events cannot be published at all
        forged = await bob.call("sio:publish", {"event": "sio:presence", "to": "voters",
                                                "args": [{"room": "voters", "sockets": []}]})
        assert forged["ok"] is False and "hub's own events" in forged["error"]
        # the next thing the kernel gets is bob's next routed event, nothing published
        await bob.conn.write_message('42["vote","again"]')
        kind, header, payload = await link.frame(("event", "deliver"))
        assert (kind, json.loads(payload or "")) == ("event", ["vote", "again"])
    finally:
        link.close()
        bob.close()


async def test_nobody_subscribes_to_another_sockets_room_or_the_hubs_rooms(
    server: Server,
) -> None:
    alice, alice_sid = await browser(server, "alice")
    carol, carol_sid = await browser(server, "carol")
    link = await script(server, "alice")
    try:
        for room in (alice_sid, "sio:kernels"):
            answer = await carol.call("sio:subscribe", {"rooms": [room]})
            assert answer["ok"] is False and answer["error"].startswith("forbidden"), answer
        assert (await carol.call("sio:subscribe", {"rooms": [carol_sid]}))["ok"] is True
        # what a kernel sends to alice's socket reaches alice only
        link.send("emit", {"ns": "/", "to": [alice_sid]}, '2["private",1]')
        link.send("emit", {"ns": "/", "to": [carol_sid]}, '2["for carol",2]')
        assert await carol.event() == ["for carol", 2]
        assert await alice.event() == ["private", 1]
    finally:
        link.close()
        alice.close()
        carol.close()


async def test_readers_see_no_session_ids_and_cannot_continue_a_session(server: Server) -> None:
    # alice opens a polling session
    sid, _ = await server.handshake(headers={"Authorization": f"token {token_of('alice')}"})
    carol, _ = await browser(server, "carol")
    try:
        stats = await carol.call("sio:inspect")
        assert stats["ok"] is True and stats["connections"]
        assert all("sid" not in c for c in stats["connections"])
        alice_stats = await (await browser(server, "alice"))[0].call("sio:inspect")
        assert sid in {c.get("sid") for c in alice_stats["connections"]}  # kernel powers
    finally:
        carol.close()
    # carol learned the sid anyway: neither polling nor an upgrade continues alice's session
    for name in ("carol", "bob"):
        headers = {"Authorization": f"token {token_of(name)}"}
        post = await server.fetch(server.sio_url(f"sid={sid}"), "POST", '40', headers)
        assert post.code == 403, (name, post.code, post.body)
        get = await server.fetch(server.sio_url(f"sid={sid}"), headers=headers)
        assert get.code == 403
        upgrade = server.sio_url(f"sid={sid}", transport="websocket", scheme="ws")
        assert await server.ws_status(upgrade, headers) == 403
    # alice herself continues it
    headers = {"Authorization": f"token {token_of('alice')}"}
    post = await server.fetch(server.sio_url(f"sid={sid}"), "POST", "40", headers)
    assert post.code == 200, post.body
    get = await asyncio.wait_for(server.fetch(server.sio_url(f"sid={sid}"), headers=headers),
                                 TIMEOUT)
    assert get.code == 200 and get.body.decode().startswith("40{"), get.body


@pytest.mark.parametrize("sio_config", [{"user_kernel_link": False}])
async def test_a_shared_server_can_keep_kernel_powers_for_its_kernels(server: Server) -> None:
    url = server.sio_url(transport="websocket", scheme="ws", endpoint="kernel")
    alice = {"Authorization": f"token {token_of('alice')}"}
    assert await server.ws_status(url, alice) == 403  # even with execute
    assert await server.ws_status(url, {"X-Jupyter-Sio-Token": server.app.secret}) == 101
    browser_url = server.sio_url(transport="websocket", scheme="ws")
    assert await server.ws_status(browser_url, alice) == 101  # browsers keep read and write


@pytest.mark.parametrize("sio_config", [{"admin_ui": True}])
async def test_the_admin_ui_is_for_kernel_powers_only(server: Server) -> None:
    answers = {}
    for name in ("alice", "bob"):
        conn = await server.ws(server.sio_url(transport="websocket", scheme="ws"),
                               {"Authorization": f"token {token_of(name)}"})
        sio = RawSio(conn)
        assert (await sio.recv()).startswith("0{")
        await conn.write_message("40/admin,")
        answers[name] = await sio.recv()
        if name == "alice":
            config = await sio.recv()
            assert config.startswith('42/admin,["config"'), config
        sio.close()
    assert answers["alice"].startswith("40/admin,{")
    assert answers["bob"].startswith("44/admin,") and "kernel powers" in answers["bob"]
