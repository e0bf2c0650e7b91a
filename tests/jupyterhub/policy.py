"""The room policy the test Hub's admin configures (``JupyterSioApp.room_policy``).

Rooms named ``private-<user>`` belong to that user alone; every other room is open to every
Hub user; nobody publishes to the whole namespace.
"""

from __future__ import annotations

from jupyter_sio.hub.sio_connection import Identity


def team_rooms(identity: Identity, action: str, room: str | None) -> bool:
    if room is None:
        return False
    if room.startswith("private-"):
        return room == f"private-{identity.name}"
    return True
