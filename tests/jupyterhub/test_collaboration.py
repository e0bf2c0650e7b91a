"""Two Hub users, each on their own single-user server, in one room through Redis.

alice and bob log in through the Hub's login page and run the same small notebook in their
own JupyterLab (``/user/<name>/lab``), with a real kernel each. The servers share Redis (the
admin's ``JupyterSioApp.redis_url``), so the room spans both servers: each sees the other in
Presence (by Hub user name, nobody typed a name), chats, and votes in a poll that alice's
kernel runs and tallies (bob's vote crosses to her server). alice's widgets use WebSocket,
bob's long-polling. The admin's room policy keeps ``private-alice`` to alice: bob's
messages there are refused and never reach her.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.lab import CURRENT, LabPage
from tests.jupyterhub.conftest import TRANSPORT, artifact, side_by_side
from tests.jupyterhub.hub import HubUserLab

ROOM = "study-group"
PRIVATE = "private-alice"
QUESTION = "Which transport does your browser use?"
PRIVATE_CHAT = ".hub-private .jsio-chat"
ROOM_CHAT = ".jsio-chat:not(.hub-private .jsio-chat)"


def notebook(*, host: bool) -> list[str]:
    cells = [
        "%load_ext jupyter_sio\n"
        "import json\n"
        "from jupyter_sio.widgets import Chat, Poll, Presence, start_poll\n"
        "print('MODE', sio.mode, sio.url)",
        f"Presence({ROOM!r})",
        f"Chat({ROOM!r})",
        (f"poll = start_poll(sio, {ROOM!r}, {QUESTION!r}, ['websocket', 'polling'])\n"
         if host else "") + f"Poll({ROOM!r})",
        f"private = Chat({PRIVATE!r})\nprivate.add_class('hub-private')\nprivate",
    ]
    if host:
        cells.append("print('TALLY', json.dumps(poll.tally()))")
    return cells


def open_notebook(lab: HubUserLab, page: Any, *, host: bool) -> LabPage:
    name = lab.write_notebook("collab.ipynb", notebook(host=host))
    nb = lab.open(page, name)
    nb.run_cells(0, 5)
    nb.wait_executed(4)
    assert nb.errors() == []
    # kernel discovery under the Hub: the kernel found its own server's hub by itself
    mode = nb.wait_output(0, r"MODE \w+ \S+")
    assert "MODE server http://127.0.0.1:" in mode
    assert f"/user/{lab.name}/jupyter-sio/socket.io/" in mode
    return nb


def chat(nb: LabPage, css: str, text: str) -> None:
    """Type ``text`` into the chat widget ``css`` and press Enter."""
    box = nb.widget(f"{css} .jsio-chat-input")
    box.fill(text)
    box.press("Enter")


def test_two_users_on_two_servers_share_a_room(login: Any, browser: Any) -> None:
    alice_lab, alice_page = login("alice", width=960, height=860)
    bob_lab, bob_page = login("bob", width=960, height=860)
    a = open_notebook(alice_lab, alice_page, host=True)
    b = open_notebook(bob_lab, bob_page, host=False)

    # Presence across the two servers, by Hub user name (alice on WebSocket, bob polling)
    for nb, me, other in ((a, "alice", "bob"), (b, "bob", "alice")):
        nb.wait_data(".jsio-presence", "count", "v === '2'")
        nb.wait_widget(f".jsio-presence-member[data-name='{other}'][data-me='false']")
        nb.wait_widget(f".jsio-presence-member[data-name='{me}'][data-me='true']")
        status = nb.widget(".jsio-presence .jsio-status").inner_text()
        assert status == f"connected · {TRANSPORT[me]}"

    # Chat across the two servers
    chat(a, ROOM_CHAT, "hello from alice's server")
    b.wait_widget(f"{ROOM_CHAT} .jsio-chat-message[data-user='alice'][data-state='received']")
    assert b.widget(f"{ROOM_CHAT} .jsio-chat-message[data-user='alice'] .jsio-chat-text"
                    ).inner_text() == "hello from alice's server"
    chat(b, ROOM_CHAT, "bob here, on my own server")
    a.wait_widget(f"{ROOM_CHAT} .jsio-chat-message[data-user='bob'][data-state='received']")

    # The room policy: private-alice is alice's alone
    chat(b, PRIVATE_CHAT, "may I come in?")
    refused = b.widget(f"{PRIVATE_CHAT} .jsio-chat-message[data-own='true']")
    b.wait_widget(f"{PRIVATE_CHAT} .jsio-chat-message[data-own='true'][data-state='failed']")
    assert "room policy refuses" in (refused.get_attribute("title") or "")
    chat(a, PRIVATE_CHAT, "just me here")
    a.wait_widget(f"{PRIVATE_CHAT} .jsio-chat-message[data-own='true'][data-state='sent']")
    # bob's refused message was never published; his next one (sent after the refusal) has
    # arrived, so the private chat would show it by now
    chat(b, ROOM_CHAT, "ok, staying here")
    a.wait_data(f"{ROOM_CHAT}", "count", "v === '3'")
    assert a.widget(f"{PRIVATE_CHAT} .jsio-chat-message").count() == 1

    # The poll: alice's kernel runs it, bob votes from the other server
    for nb in (a, b):
        nb.wait_widget(".jsio-poll-option[data-choice='1']")
        assert nb.widget(".jsio-poll-question").inner_text() == QUESTION
    a.widget(".jsio-poll-option[data-choice='0']").click()
    a.wait_widget(".jsio-poll-option[data-choice='0'][data-voted='true']")
    b.widget(".jsio-poll-option[data-choice='1']").click()
    b.wait_widget(".jsio-poll-option[data-choice='1'][data-voted='true']")
    for nb in (a, b):
        nb.wait_data(".jsio-poll-total", "total", "v === '2'")
        nb.wait_data(".jsio-poll-option[data-choice='0']", "count", "v === '1'")
        nb.wait_data(".jsio-poll-option[data-choice='1']", "count", "v === '1'")
    a.run_cell(5)
    a.wait_executed(5)
    tally = json.loads(a.wait_output(5, r"TALLY \{.*\}").split("TALLY", 1)[1].strip())
    assert tally == {"websocket": 1, "polling": 1}

    readme_screenshot(browser, {"alice": a, "bob": b})


def readme_screenshot(browser: Any, pages: dict[str, LabPage]) -> None:
    """``jupyterhub.png`` (copied to docs/ for the README): each user's notebook panel, with
    the URL of their own server above it."""
    shots = []
    for name, nb in pages.items():
        nb.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()
        nb.page.wait_for_selector("#jp-left-stack", state="hidden", timeout=10_000)
        nb.cells().nth(1).evaluate("(el) => el.scrollIntoView({block: 'start'})")
        url = nb.page.url.split("/lab", 1)[0] + "/lab"
        shots.append((f"{name}'s browser: {url}", nb.page.locator(CURRENT).screenshot()))
    side_by_side(browser, shots, artifact("jupyterhub.png"))
