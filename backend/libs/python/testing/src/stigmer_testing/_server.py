"""The real stigmer-server, started as a subprocess for a test (or a whole session).

The server listens on a free loopback port (it binds port 0 and writes the address it got
to a file), stores into a fresh SQLite file, accepts one generated API key, and talks to
the session's Temporal dev server. Teardown sends SIGTERM and waits for a clean exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class StigmerServer:
    """A running server: where it listens, its key, where it keeps its data and log."""

    address: str
    api_key: str
    db_url: str
    data_dir: Path
    log_file: Path
    pid: int
    execution_task_queue: str
    persistence_task_queue: str
    # host:port of the HTTP side (Connect API and console).
    http_address: str = ""

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC call metadata that authenticates with this server's key."""
        return (("authorization", f"Bearer {self.api_key}"),)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


StigmerServerFactory = Callable[..., AbstractAsyncContextManager[StigmerServer]]


@contextlib.asynccontextmanager
async def start_stigmer_server(
    temporal_address: str,
    *,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> AsyncIterator[StigmerServer]:
    """Start `python -m stigmer_server` and yield once gRPC health reports SERVING.

    `env` adds or overrides server settings (e.g. STIGMER_SESSION_POLICY=reject, or
    STIGMER_DB_URL for PostgreSQL). The task queues are unique per server: a test's
    activity worker (the runner, or a test double) polls `server.execution_task_queue`.
    """
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stigmer-srv-")))
        data_dir.mkdir(parents=True, exist_ok=True)
        api_key = secrets.token_urlsafe(24)
        suffix = secrets.token_hex(4)
        port_file = data_dir / "server.address"
        port_file.unlink(missing_ok=True)
        http_port_file = data_dir / "server.http-address"
        http_port_file.unlink(missing_ok=True)
        log_file = data_dir / "server.log"
        child_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("STIGMER_", "TEMPORAL_", "EXECUTION_PERSISTENCE_"))
        }
        child_env.update(
            {
                "STIGMER_SERVER_ADDRESS": "127.0.0.1:0",
                "STIGMER_SERVER_PORT_FILE": str(port_file),
                "STIGMER_HTTP_ADDRESS": "127.0.0.1:0",
                "STIGMER_HTTP_PORT_FILE": str(http_port_file),
                "STIGMER_DATA_DIR": str(data_dir),
                "STIGMER_DB_URL": f"sqlite+aiosqlite:///{data_dir / 'stigmer.db'}",
                "STIGMER_API_KEYS": api_key,
                "TEMPORAL_HOST_PORT": temporal_address,
                "LOG_LEVEL": "DEBUG",
                # Queues of their own, so workers of other tests on the same Temporal
                # never pick up this server's turns.
                "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE": f"execution-{suffix}",
                "EXECUTION_PERSISTENCE_TASK_QUEUE": f"execution-persistence-{suffix}",
            }
        )
        child_env.update(env or {})
        # A replica of another server is given that server's keys: its clients use them.
        api_key = child_env["STIGMER_API_KEYS"].split(",")[0]
        log = stack.enter_context(log_file.open("wb"))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "stigmer_server",
            cwd=data_dir,
            env=child_env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            address = await _wait_serving(process, port_file, log_file)
            yield StigmerServer(
                address=address,
                api_key=api_key,
                db_url=child_env["STIGMER_DB_URL"],
                data_dir=data_dir,
                log_file=log_file,
                pid=process.pid,
                execution_task_queue=child_env["TEMPORAL_AGENT_EXECUTION_TASK_QUEUE"],
                persistence_task_queue=child_env["EXECUTION_PERSISTENCE_TASK_QUEUE"],
                # Written before the gRPC address, so it is there once that is.
                http_address=_read_address(http_port_file),
            )
        finally:
            await _stop(process)


async def _wait_serving(
    process: asyncio.subprocess.Process, port_file: Path, log_file: Path
) -> str:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            pytest.fail(
                f"stigmer-server exited with {process.returncode} before serving:\n"
                + _tail(log_file)
            )
        address = _read_address(port_file)
        if address and await _is_serving(address):
            return address
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout=0.1)
    pytest.fail(
        f"stigmer-server did not report SERVING within {_START_TIMEOUT:.0f} s:\n" + _tail(log_file)
    )


def _read_address(port_file: Path) -> str:
    return port_file.read_text().strip() if port_file.exists() else ""


def _tail(log_file: Path) -> str:
    return log_file.read_text(errors="replace")[-4000:]


async def _is_serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=_STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.fixture(scope="session")
async def stigmer_server(temporal_address: str) -> AsyncIterator[StigmerServer]:
    """One server for the whole test session (share it when tests do not need isolation)."""
    async with start_stigmer_server(temporal_address) as server:
        yield server


@pytest.fixture
def stigmer_server_factory(temporal_address: str) -> StigmerServerFactory:
    """`async with stigmer_server_factory(env={...}) as server:` for a private server."""

    def factory(
        *, env: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> AbstractAsyncContextManager[StigmerServer]:
        return start_stigmer_server(temporal_address, env=env, data_dir=data_dir)

    return factory
