"""A real ipykernel started by the server finds the hub from its environment alone."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import Server

CELL = r"""
import json, os
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

url = os.environ["JUPYTER_SIO_URL"].replace("http", "ws", 1) + "kernel/"
request = HTTPRequest(url, headers={"X-Jupyter-Sio-Token": os.environ["JUPYTER_SIO_TOKEN"]},
                      request_timeout=20)
conn = await websocket_connect(request)
await conn.write_message('hello\t{"v":1}\nstatus\t{"id":1}')
frames = []
while not any(f.startswith("result") for f in frames):
    frames += (await conn.read_message()).split("\n")
conn.close()
result = next(f for f in frames if f.startswith("result"))
print("STATUS", result.split("\t")[1])
"""


async def test_kernel_started_by_the_server_reaches_the_hub(server: Server) -> None:
    km = server.serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    client = km.get_kernel(kernel_id).client()
    client.start_channels()
    output: list[str] = []

    def collect(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            output.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            output.append("\n".join(msg["content"]["traceback"]))

    try:
        await asyncio.wait_for(client.wait_for_ready(timeout=60), 90)
        reply = await asyncio.wait_for(
            client.execute_interactive(CELL, output_hook=collect, timeout=60), 90
        )
        text = "".join(output)
        assert reply["content"]["status"] == "ok", text
        assert "STATUS" in text and '"clients"' in text, text
    finally:
        client.stop_channels()
        await km.shutdown_kernel(kernel_id, now=True)
