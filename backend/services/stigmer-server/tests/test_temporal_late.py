"""A server started before Temporal: the API serves at once, turns run once Temporal is up."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import pytest
from temporalio.client import Client

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_contracts import data_converter
from stigmer_testing._paths import temporal_cli

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from conftest import Api, Builders, RunnerFor

    from stigmer_testing._server import StigmerServer, StigmerServerFactory

    Connect = Callable[[StigmerServer], AbstractAsyncContextManager[Api]]

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def _temporal_on(port: int) -> AsyncIterator[Client]:
    cli = temporal_cli()
    if cli is None:
        pytest.fail("no Temporal CLI found: run `make setup`")
    process = await asyncio.create_subprocess_exec(
        str(cli), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
        "--headless", "--log-level", "error",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                client = await Client.connect(f"127.0.0.1:{port}", data_converter=data_converter())
                break
            except RuntimeError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the second Temporal dev server did not come up")
        yield client
    finally:
        process.terminate()
        await process.wait()


async def test_turns_run_once_temporal_comes_up(
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with (
        stigmer_server_factory(env={"TEMPORAL_HOST_PORT": f"127.0.0.1:{port}"}) as server,
        connect_api(server) as api,
    ):
        agent = await api.call(api.agents.create, make.agent())  # the API works without Temporal
        await asyncio.sleep(1.5)  # the workers have failed to connect at least once
        async with _temporal_on(port) as client, runner_for(server, api, client):
            created = await api.call(
                api.executions.create, make.execution("ok late", agent_id=agent.metadata.id)
            )
            final = await api.wait_phase(
                created.metadata.id, ExecutionPhase.EXECUTION_COMPLETED, within=90
            )
        assert [m.content for m in final.status.messages] == ["done"]
        assert "workers not running" in server.log()
