"""JupyterSioApp.room_policy decides which rooms browsers may use (kernels are not limited)."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_sio.hub.sio_connection import Identity

from .conftest import Server
from .test_socketio_client import _connect

SEEN: list[tuple[str, str, str | None]] = []


def staff_rooms_only_for_staff(identity: Identity, action: str, room: str | None) -> bool:
    """Example policy: rooms named ``staff-*`` are off limits; no namespace-wide publish."""
    SEEN.append((identity.name, action, room))
    if room is None:
        return False
    return not room.startswith("staff-")


@pytest.fixture
def sio_config() -> dict[str, Any]:
    return {"room_policy": f"{__name__}.staff_rooms_only_for_staff"}


async def test_room_policy_refuses_and_allows_per_room(server: Server) -> None:
    client = await _connect(server, server.origin, ["websocket"])
    try:
        allowed = await client.call("sio:subscribe", {"rooms": ["lobby"]}, timeout=10)
        assert allowed["ok"] is True
        refused = await client.call("sio:subscribe", {"rooms": ["staff-only"]}, timeout=10)
        assert refused == {"ok": False, "error": "forbidden: the room policy refuses "
                                                 "subscribe to room 'staff-only'"}
        everyone = await client.call("sio:publish", {"event": "x", "args": []}, timeout=10)
        assert everyone["ok"] is False and "whole namespace" in everyone["error"]
        ok = await client.call("sio:publish", {"event": "x", "to": "lobby"}, timeout=10)
        assert ok == {"ok": True}
        listing = await client.call("sio:presence", {"room": "staff-only"}, timeout=10)
        assert listing["ok"] is False
    finally:
        await client.disconnect()
    assert ("subscribe", "staff-only") in [(action, room) for _, action, room in SEEN]
