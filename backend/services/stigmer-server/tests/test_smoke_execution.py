"""The path every other suite builds on: create, get, updateStatus, subscribe, a turn."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import SubscribeAgentExecutionRequest
from ai.stigmer.agentic.agentexecution.v1.spec_pb2 import AgentExecutionSpec
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata

if TYPE_CHECKING:
    from conftest import Api, RunnerDouble

pytestmark = pytest.mark.integration
V1 = "agentic.stigmer.ai/v1"


async def test_agent_only_turn_runs_to_completed(api: Api, runner: RunnerDouble) -> None:
    agent = await api.call(
        api.agents.create,
        Agent(api_version=V1, kind="Agent", metadata=ApiResourceMetadata(name="Smoke Agent")),
    )
    execution = await api.call(
        api.executions.create,
        AgentExecution(
            api_version=V1,
            kind="AgentExecution",
            spec=AgentExecutionSpec(agent_id=agent.metadata.id, message="ok hello"),
        ),
    )
    assert execution.status.phase == ExecutionPhase.EXECUTION_PENDING
    events = [
        event
        async for event in api.executions_q.subscribe(
            SubscribeAgentExecutionRequest(execution_id=execution.metadata.id),
            metadata=api.metadata,
            timeout=60,
        )
    ]
    assert events[0].WhichOneof("payload") == "snapshot"
    sequences = [event.sequence for event in events]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    final = await api.wait_phase(execution.metadata.id, ExecutionPhase.EXECUTION_COMPLETED)
    assert final.status.messages[0].content == "done"
