"""The contract module drives a real workflow and activity through the Temporal dev server."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import stigmer_contracts as contracts
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, MessageType
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionStatusUpdate
from ai.stigmer.agentic.agentexecution.v1.spec_pb2 import AgentExecutionSpec
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


class RecordingActivities:
    """Test-only activities registered under the contract's real names."""

    def __init__(self) -> None:
        self.persisted: list[AgentExecutionStatusUpdate] = []

    @contracts.ensure_thread_defn
    async def ensure_thread(self, session_id: str, agent_id: str) -> str:
        if not session_id:
            raise ApplicationError(
                "session_id cannot be empty",
                type=contracts.ERROR_INVALID_INPUT,
                non_retryable=True,
            )
        return f"thread-for-{session_id}-{agent_id}"

    @contracts.execute_graphton_defn
    async def execute_graphton(
        self, execution: AgentExecution, thread_id: str
    ) -> AgentExecutionStatus:
        return AgentExecutionStatus(
            phase=ExecutionPhase.EXECUTION_COMPLETED,
            messages=[
                AgentMessage(
                    id="m1",
                    type=MessageType.MESSAGE_AI,
                    content=f"{execution.spec.message} @ {thread_id}",
                )
            ],
        )

    @contracts.update_execution_status_defn
    async def update_execution_status(self, update: AgentExecutionStatusUpdate) -> None:
        self.persisted.append(update)


@workflow.defn(name="ContractProbeWorkflow")
class ContractProbeWorkflow:
    @workflow.run
    async def run(self, execution: AgentExecution) -> AgentExecutionStatus:
        queue = workflow.info().task_queue
        thread_id = await contracts.execute_ensure_thread(
            execution.spec.session_id, execution.spec.agent_id, task_queue=queue
        )
        status = await contracts.execute_graphton(execution, thread_id, task_queue=queue)
        await contracts.execute_update_execution_status(
            AgentExecutionStatusUpdate(execution_id=execution.metadata.id, status=status),
            task_queue=queue,
        )
        return status


def _execution(session_id: str) -> AgentExecution:
    return AgentExecution(
        api_version="agentic.stigmer.ai/v1",
        kind="AgentExecution",
        metadata=ApiResourceMetadata(id="aex-test"),
        spec=AgentExecutionSpec(session_id=session_id, agent_id="agt-1", message="hello"),
    )


async def test_workflow_calls_contract_activities_with_proto_payloads(
    temporal_client: Client,
) -> None:
    queue = f"contract-{uuid.uuid4()}"
    activities = RecordingActivities()
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[ContractProbeWorkflow],
        activities=[
            activities.ensure_thread,
            activities.execute_graphton,
            activities.update_execution_status,
        ],
        # The probe workflow lives in a test module, which the sandbox cannot re-import.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        status = await temporal_client.execute_workflow(
            ContractProbeWorkflow.run,
            _execution("ses-1"),
            id=f"wf-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
    assert isinstance(status, AgentExecutionStatus)
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert status.messages[0].content == "hello @ thread-for-ses-1-agt-1"
    assert [u.execution_id for u in activities.persisted] == ["aex-test"]
    assert activities.persisted[0].status == status


async def test_non_retryable_contract_error_fails_the_workflow_once(
    temporal_client: Client,
) -> None:
    queue = f"contract-{uuid.uuid4()}"
    activities = RecordingActivities()
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[ContractProbeWorkflow],
        activities=[
            activities.ensure_thread,
            activities.execute_graphton,
            activities.update_execution_status,
        ],
        # The probe workflow lives in a test module, which the sandbox cannot re-import.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        with pytest.raises(WorkflowFailureError) as failure:
            await temporal_client.execute_workflow(
                ContractProbeWorkflow.run,
                _execution(""),
                id=f"wf-{uuid.uuid4()}",
                task_queue=queue,
                execution_timeout=timedelta(seconds=60),
            )
    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == contracts.ERROR_INVALID_INPUT
    assert "session_id cannot be empty" in str(cause)
    assert activities.persisted == []
