"""Drive real ipykernel processes from tests: run code, collect outputs, bounded waits."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager


@dataclass
class Execution:
    """What one execute request produced."""

    stdout: str = ""
    stderr: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


class Kernel:
    """A real kernel started with jupyter_client (no Jupyter server, unless env says so)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env
        self.manager = AsyncKernelManager(kernel_name="python3")
        self.client: AsyncKernelClient | None = None

    async def start(self) -> Kernel:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SIO_")}
        env.pop("JPY_PARENT_PID", None)
        env.update(self.env or {})
        await self.manager.start_kernel(env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=60)
        return self

    async def stop(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        await self.manager.shutdown_kernel(now=True)

    def submit(self, code: str) -> str:
        """Send code without waiting; returns the msg id."""
        assert self.client is not None
        return str(self.client.execute(code, store_history=False))

    async def collect(self, msg_id: str, timeout: float = 60) -> Execution:
        """Gather the outputs of ``msg_id`` until the kernel is idle for it."""
        assert self.client is not None
        result = Execution()

        async def read() -> None:
            while True:
                msg = await self.client.get_iopub_msg(timeout=timeout)  # type: ignore[union-attr]
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    if content["name"] == "stdout":
                        result.stdout += content["text"]
                    else:
                        result.stderr += content["text"]
                elif kind in ("display_data", "execute_result"):
                    result.outputs.append(content)
                elif kind == "error":
                    result.error = content
                elif kind == "status" and content["execution_state"] == "idle":
                    return

        await asyncio.wait_for(read(), timeout)
        return result

    async def run(self, code: str, timeout: float = 60) -> Execution:
        execution = await self.collect(self.submit(code), timeout)
        if execution.error is not None:
            raise AssertionError(
                f"cell failed: {execution.error['ename']}: {execution.error['evalue']}\n{code}"
            )
        return execution

    async def value(self, expression: str) -> str:
        """``print`` an expression in the kernel and return the text."""
        execution = await self.run(f"print({expression})")
        return execution.stdout.strip()
