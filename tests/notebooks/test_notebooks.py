"""Every example notebook runs top to bottom, headless (nbclient), against a real server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import nbformat
import pytest
import pytest_asyncio
from nbclient import NotebookClient

from tests.live_server import LiveServer

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    live = await LiveServer(tmp_path_factory.mktemp("nbserver")).start()
    yield live
    await live.stop()


async def test_there_are_four_example_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS] == [
        "01-quickstart", "02-live-dashboard", "03-broadcast-from-cells",
        "04-collaborative-session",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
async def test_notebook_runs_against_a_real_server(server: LiveServer, path: Path,
                                                   tmp_path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SIO_")}
    env.update(server.kernel_env, JSIO_DEMO_SLEEP="2", MPLBACKEND="agg")
    client = NotebookClient(book, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    await client.async_execute(env=env)
    outputs = [out for cell in book.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "connected to the Jupyter server's hub" in text  # server mode, not embedded
    # no secret ever lands in the notebook
    saved = nbformat.writes(book)
    assert server.kernel_secret not in saved and server.token not in saved
