"""``python -m jupyter_sio serve --loop ...``: the standalone server on uvloop or asyncio."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import socketio

from jupyter_sio.__main__ import loop_runner

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_listening(port: int, proc: subprocess.Popen[bytes], limit: float = 30) -> None:
    async def attempt() -> None:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return

    await asyncio.wait_for(attempt(), limit)


def uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize(
    "loop",
    [
        pytest.param(
            "uvloop",
            marks=pytest.mark.skipif(not uvloop_installed(), reason="uvloop is not installed"),
        ),
        "asyncio",
    ],
)
async def test_serve_on_the_chosen_loop_answers_python_socketio(loop: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_sio", "serve", "--port", str(port), "--loop", loop],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    client = socketio.AsyncClient(reconnection=False)
    try:
        await wait_listening(port, proc)
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=10)
        assert await client.call("echo", {"hi": [1, "é"]}, timeout=10) == {"hi": [1, "é"]}
        await client.disconnect()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert f"event loop: {loop}".encode() in err, err.decode(errors="replace")[-2000:]


def test_auto_prefers_uvloop_when_installed() -> None:
    name, _ = loop_runner("auto")
    assert name == ("uvloop" if uvloop_installed() else "asyncio")
    assert loop_runner("asyncio")[0] == "asyncio"


def test_unknown_loop_is_refused() -> None:
    with pytest.raises(SystemExit, match="--loop must be one of"):
        loop_runner("trio")
