"""A Temporal dev server on a file database that a scenario can stop and start again.

The session's shared dev server (stigmer_testing) is in memory: a restart would lose every
workflow. This one keeps its state in `--db-filename` and comes back on the same ports, so
the server and runners connected to it reconnect by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from stigmer_contracts import data_converter
from stigmer_testing import eventually_async, free_port

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 15.0


@dataclass
class FileTemporal:
    cli: Path
    db_file: Path
    log_file: Path
    port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> float:
        """Start the server and return the seconds until a client could describe a namespace.

        The dev server picks ports of its own for its internal services, and one of them can
        be one this test chose (or one taken meanwhile): it then exits at once. Such a start
        is tried again, up to three times, with fresh HTTP and metrics ports (the frontend
        port stays, so clients reconnect to the same address)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        for attempt in range(3):
            try:
                await self._start_once()
                break
            except AssertionError:
                if self.process is None or self.process.returncode is None or attempt == 2:
                    raise
                self.http_port, self.metrics_port = free_port(), free_port()
        return loop.time() - started

    async def _start_once(self) -> None:
        with self.log_file.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(self.cli),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(self.http_port),
                "--metrics-port",
                str(self.metrics_port),
                "--db-filename",
                str(self.db_file),
                "--log-level",
                "error",
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        await eventually_async(
            self._ready,
            timeout=_START_TIMEOUT,
            interval=0.2,
            message=lambda: "the file-backed Temporal dev server to serve\n" + self.log()[-3000:],
        )

    async def _ready(self) -> bool:
        if self.process is not None and self.process.returncode is not None:
            raise AssertionError(f"temporal exited with {self.process.returncode}")
        client = await Client.connect(self.address, data_converter=data_converter())
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
        return True

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), timeout=_STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()

    def log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log_file.read_text(errors="replace")
        return ""
