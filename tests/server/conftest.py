from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = await LiveServer(tmp_path).start()
    yield live
    await live.stop()
