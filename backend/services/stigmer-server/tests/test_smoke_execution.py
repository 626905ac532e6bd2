"""The shared `stigmer_server` fixture (what the runner and CLI suites use) runs a turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import SubscribeAgentExecutionRequest

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from conftest import Api, Builders, RunnerFor

    from stigmer_testing._server import StigmerServer

    Connect = Callable[[StigmerServer], AbstractAsyncContextManager[Api]]

pytestmark = pytest.mark.integration


async def test_session_server_fixture_runs_a_turn_end_to_end(
    stigmer_server: StigmerServer, connect_api: Connect, runner_for: RunnerFor, make: Builders
) -> None:
    assert stigmer_server.execution_task_queue.startswith("execution-")
    async with connect_api(stigmer_server) as api, runner_for(stigmer_server, api):
        agent = await api.call(api.agents.create, make.agent())
        execution = await api.call(
            api.executions.create, make.execution("ok hello", agent_id=agent.metadata.id)
        )
        assert execution.status.phase == ExecutionPhase.EXECUTION_PENDING
        request = SubscribeAgentExecutionRequest(execution_id=execution.metadata.id)
        events = [
            event
            async for event in api.executions_q.subscribe(
                request, metadata=api.metadata, timeout=60
            )
        ]
        assert events[0].WhichOneof("payload") == "snapshot"
        sequences = [event.sequence for event in events]
        assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
        final = await api.wait_phase(execution.metadata.id, ExecutionPhase.EXECUTION_COMPLETED)
        assert final.status.messages[0].content == "done"
