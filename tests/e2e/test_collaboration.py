"""Two people in one room, each in their own browser context and notebook (own kernel): they
see each other in Presence, chat, and vote in a poll that notebook A's kernel tallies."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.lab import Lab, LabPage

ROOM = "study-group"
QUESTION = "Which transport does your browser use?"


def collab_notebook(name: str, *, host: bool) -> list[str]:
    cells = [
        "%load_ext jupyter_sio\n"
        "import json\n"
        "from jupyter_sio.widgets import Chat, Poll, Presence, start_poll\n"
        f"ROOM = {ROOM!r}",
        f"Presence(ROOM, name={name!r})",
        f"Chat(ROOM, name={name!r})",
        (f"poll = start_poll(sio, ROOM, {QUESTION!r}, ['websocket', 'polling'])\n" if host else "")
        + "Poll(ROOM)",
    ]
    if host:
        cells.append("print('TALLY', json.dumps(poll.tally()))")
    return cells


def send_chat(nb: LabPage, text: str) -> None:
    box = nb.widget(".jsio-chat .jsio-chat-input")
    box.fill(text)
    box.press("Enter")


def test_presence_chat_and_poll_between_two_browsers(lab: Lab, new_page: Any) -> None:
    a_name = lab.write_notebook("collab-a.ipynb", collab_notebook("alice", host=True))
    b_name = lab.write_notebook("collab-b.ipynb", collab_notebook("bob", host=False))
    a: LabPage = new_page(a_name)
    a.run_cells(0, 4)
    a.wait_executed(3)
    b: LabPage = new_page(b_name)
    b.run_cells(0, 4)
    b.wait_executed(3)
    assert a.errors() == [] and b.errors() == []

    # Presence: each page lists both people, itself marked as "me"
    for page, me, other in ((a, "alice", "bob"), (b, "bob", "alice")):
        page.wait_data(".jsio-presence", "count", "v === '2'")
        page.wait_widget(f".jsio-presence-member[data-name='{other}'][data-me='false']")
        page.wait_widget(f".jsio-presence-member[data-name='{me}'][data-me='true']")

    # Chat: what one types appears in the other page, and back
    a.wait_widget(".jsio-chat .jsio-chat-input")
    b.wait_widget(".jsio-chat .jsio-chat-input")
    send_chat(a, "hello from alice")
    b.wait_widget(".jsio-chat-message[data-user='alice'][data-state='received']")
    assert b.widget(".jsio-chat-message[data-user='alice'] .jsio-chat-text").inner_text() == (
        "hello from alice")
    a.wait_widget(".jsio-chat-message[data-user='alice'][data-own='true'][data-state='sent']")
    send_chat(b, "hi alice, bob here")
    a.wait_widget(".jsio-chat-message[data-user='bob'][data-state='received']")
    assert a.widget(".jsio-chat-message[data-user='bob'] .jsio-chat-text").inner_text() == (
        "hi alice, bob here")

    # Poll: both see the question (retained), each votes, both see two votes
    for page in (a, b):
        page.wait_widget(".jsio-poll-option[data-choice='1']")
        assert page.widget(".jsio-poll-question").inner_text() == QUESTION
    a.widget(".jsio-poll-option[data-choice='0']").click()
    a.wait_widget(".jsio-poll-option[data-choice='0'][data-voted='true']")
    b.widget(".jsio-poll-option[data-choice='1']").click()
    b.wait_widget(".jsio-poll-option[data-choice='1'][data-voted='true']")
    for page in (a, b):
        page.wait_data(".jsio-poll-total", "total", "v === '2'")
        page.wait_data(".jsio-poll-option[data-choice='0']", "count", "v === '1'")
        page.wait_data(".jsio-poll-option[data-choice='1']", "count", "v === '1'")

    # the kernel's tally agrees
    a.run_cell(4)
    a.wait_executed(4)
    text = a.wait_output(4, r"TALLY \{.*\}")
    tally = json.loads(text.split("TALLY", 1)[1].strip())
    assert tally == {"websocket": 1, "polling": 1}
    a.cells().nth(1).evaluate("(el) => el.scrollIntoView({block: 'start'})")
    b.cells().nth(1).evaluate("(el) => el.scrollIntoView({block: 'start'})")
    a.screenshot("presence-chat-poll.png")
    b.screenshot("presence-chat-poll-b.png")


SOLO = [
    "%load_ext jupyter_sio\n"
    "import json\n"
    "from jupyter_sio.widgets import Presence\n"
    "def browsers(room):\n"
    "    return [s for s in sio.sockets(room=room) if not s.get('kernel')]\n"
    "p = Presence('solo', name='carol')\n"
    "p",
    "print('SOCKETS', len(browsers('solo')))",
    "p.close()\n"
    "import time\n"
    "for _ in range(100):  # bounded: up to 10 s for the page to let go\n"
    "    if not browsers('solo'):\n"
    "        break\n"
    "    time.sleep(0.1)\n"
    "print('AFTER CLOSE', len(browsers('solo')))",
]


def test_one_hub_connection_per_widget_closed_with_the_widget(lab: Lab, new_page: Any) -> None:
    """One widget in one page is one socket in the room, and ``close()`` ends it.

    (anywidget hands ``initialize`` and ``render`` different model proxies, so a session
    cache keyed by the model object misses in ``render``.)"""
    nb: LabPage = new_page(lab.write_notebook("solo.ipynb", SOLO))
    nb.run_cell(0)
    nb.wait_executed(0)
    nb.wait_data(".jsio-presence", "count", "v === '1'")
    nb.wait_widget(".jsio-presence-member[data-name='carol'][data-me='true']")
    nb.run_cell(1)
    nb.wait_executed(1)
    sockets = nb.wait_output(1, r"SOCKETS \d+")
    members = nb.data(".jsio-presence-member[data-name='carol']", "sockets")
    nb.run_cell(2)
    nb.wait_executed(2)
    after = nb.wait_output(2, r"AFTER CLOSE \d+")
    assert (sockets.strip(), members, after.strip()) == ("SOCKETS 1", "1", "AFTER CLOSE 0")
