"""InvokeAgentExecutionWorkflow: one turn, from waiting for the session to the final status.

Deterministic code only: the workflow reads nothing but its input and activity results.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
    from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
    from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionStatusUpdate
    from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
    from stigmer_contracts import (
        EXECUTE_GRAPHTON_OPTIONS,
        INVOKE_AGENT_EXECUTION_WORKFLOW,
        NON_RETRYABLE_ERROR_TYPES,
        ActivityOptions,
        execute_ensure_thread,
        execute_graphton,
        execute_update_execution_status,
    )
    from stigmer_status import is_final

# The server's own activity that holds a turn until the session's earlier turns ended.
AWAIT_SESSION_TURN = "AwaitSessionTurn"
AWAIT_SESSION_TURN_HEARTBEAT = timedelta(seconds=30)


@dataclass(frozen=True)
class TurnSettings:
    """The workflow's second argument: what the server's config decides for this turn."""

    persistence_task_queue: str
    wait_for_session_turn: bool
    graphton_start_to_close_seconds: float
    graphton_heartbeat_seconds: float
    graphton_maximum_attempts: int


@workflow.defn(name=INVOKE_AGENT_EXECUTION_WORKFLOW)
class InvokeAgentExecutionWorkflow:
    @workflow.run
    async def run(self, execution: AgentExecution, settings: TurnSettings) -> AgentExecutionStatus:
        execution_id = execution.metadata.id
        queue = workflow.info().task_queue
        try:
            if settings.wait_for_session_turn:
                await workflow.execute_activity(
                    AWAIT_SESSION_TURN,
                    execution_id,
                    task_queue=settings.persistence_task_queue,
                    start_to_close_timeout=timedelta(days=7),
                    heartbeat_timeout=AWAIT_SESSION_TURN_HEARTBEAT,
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
                )
            thread_id = await execute_ensure_thread(
                execution.spec.session_id, execution.spec.agent_id, task_queue=queue
            )
            status = await execute_graphton(
                execution, thread_id, task_queue=queue, options=_graphton_options(settings)
            )
        except asyncio.CancelledError:
            await self._persist(execution_id, settings, _ended(ExecutionPhase.EXECUTION_CANCELLED))
            raise
        except ActivityError as error:
            if isinstance(error.cause, CancelledError):
                await self._persist(
                    execution_id, settings, _ended(ExecutionPhase.EXECUTION_CANCELLED)
                )
                raise
            message = describe_failure(error)
            await self._persist(
                execution_id, settings, _ended(ExecutionPhase.EXECUTION_FAILED, message)
            )
            raise ApplicationError(message, non_retryable=True) from error
        final = AgentExecutionStatus()
        final.CopyFrom(status)
        # sequence 0: the server numbers it, so a retried persist cannot be refused.
        final.sequence = 0
        if not is_final(final.phase):
            final.phase = ExecutionPhase.EXECUTION_COMPLETED
        await self._persist(execution_id, settings, final)
        return final

    async def _persist(
        self, execution_id: str, settings: TurnSettings, status: AgentExecutionStatus
    ) -> None:
        await execute_update_execution_status(
            AgentExecutionStatusUpdate(execution_id=execution_id, status=status),
            task_queue=settings.persistence_task_queue,
        )


def describe_failure(error: ActivityError) -> str:
    """The text users see: the runner's own message when it gave one."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        kind = f"{cause.type}: " if cause.type else ""
        return f"{error.activity_type} failed: {kind}{cause.message}"
    if isinstance(cause, TemporalTimeoutError):
        return f"{error.activity_type} timed out ({cause.type.name if cause.type else 'unknown'})"
    return f"{error.activity_type} failed: {cause or error}"


def _ended(phase: ExecutionPhase.ValueType, error: str | None = None) -> AgentExecutionStatus:
    status = AgentExecutionStatus(phase=phase)
    if error is not None:
        status.error = error
    return status


def _graphton_options(settings: TurnSettings) -> ActivityOptions:
    base = EXECUTE_GRAPHTON_OPTIONS
    return ActivityOptions(
        start_to_close_timeout=timedelta(seconds=settings.graphton_start_to_close_seconds),
        heartbeat_timeout=timedelta(seconds=settings.graphton_heartbeat_seconds),
        retry_policy=RetryPolicy(
            initial_interval=base.retry_policy.initial_interval,
            backoff_coefficient=base.retry_policy.backoff_coefficient,
            maximum_interval=base.retry_policy.maximum_interval,
            maximum_attempts=settings.graphton_maximum_attempts,
            non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
        ),
    )
