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
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


class RecordingActivities:
    """Test-only activities registered under the contract's real names."""

    def __init__(self) -> None:
        self.requests: list[contracts.TurnRequest] = []

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
    async def execute_graphton(self, request: contracts.TurnRequest) -> contracts.TurnOutcome:
        self.requests.append(request)
        return contracts.TurnOutcome(phase=ExecutionPhase.EXECUTION_COMPLETED)


@workflow.defn(name="ContractProbeWorkflow")
class ContractProbeWorkflow:
    @workflow.run
    async def run(self, session_id: str) -> contracts.TurnOutcome:
        queue = workflow.info().task_queue
        thread_id = await contracts.execute_ensure_thread(session_id, "agt-1", task_queue=queue)
        return await contracts.execute_graphton(
            contracts.TurnRequest(execution_id="aex-test", thread_id=thread_id),
            task_queue=queue,
        )


async def _run_probe(
    temporal_client: Client, activities: RecordingActivities, session_id: str
) -> contracts.TurnOutcome:
    queue = f"contract-{uuid.uuid4()}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[ContractProbeWorkflow],
        activities=[activities.ensure_thread, activities.execute_graphton],
        # The probe workflow lives in a test module, which the sandbox cannot re-import.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        outcome: contracts.TurnOutcome = await temporal_client.execute_workflow(
            ContractProbeWorkflow.run,
            session_id,
            id=f"wf-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
    return outcome


async def test_workflow_calls_contract_activities_with_small_payloads(
    temporal_client: Client,
) -> None:
    activities = RecordingActivities()
    outcome = await _run_probe(temporal_client, activities, "ses-1")
    assert outcome == contracts.TurnOutcome(phase=ExecutionPhase.EXECUTION_COMPLETED)
    assert activities.requests == [
        contracts.TurnRequest(execution_id="aex-test", thread_id="thread-for-ses-1-agt-1")
    ]


async def test_non_retryable_contract_error_fails_the_workflow_once(
    temporal_client: Client,
) -> None:
    activities = RecordingActivities()
    with pytest.raises(WorkflowFailureError) as failure:
        await _run_probe(temporal_client, activities, "")
    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == contracts.ERROR_INVALID_INPUT
    assert "session_id cannot be empty" in str(cause)
    assert activities.requests == []
