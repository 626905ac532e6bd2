"""The real server pointed at PostgreSQL: resources and a whole turn, end to end."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from conftest import Api, Builders, RunnerDouble

    from stigmer_testing._server import StigmerServer, StigmerServerFactory

    Connect = Callable[[StigmerServer], AbstractAsyncContextManager[Api]]
    RunnerFor = Callable[[StigmerServer, Api], AbstractAsyncContextManager[RunnerDouble]]

pytestmark = pytest.mark.integration


async def test_server_on_postgresql_runs_a_turn(
    postgres_url: str,
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
) -> None:
    async with (
        stigmer_server_factory(env={"STIGMER_DB_URL": postgres_url}) as server,
        connect_api(server) as api,
        runner_for(server, api),
    ):
        assert server.db_url == postgres_url
        agent = await api.call(api.agents.create, make.agent())
        assert (await api.call(api.agents_q.get, AgentId(value=agent.metadata.id))) == agent
        created = await api.call(
            api.executions.create, make.execution("ok pg", agent_id=agent.metadata.id)
        )
        final = await api.wait_phase(created.metadata.id, ExecutionPhase.EXECUTION_COMPLETED)
        assert [m.content for m in final.status.messages] == ["done"]
        assert "database ready (postgresql" in server.log()
