"""The server's connection to Temporal: made on first use, so the API runs without it."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from stigmer_contracts import INVOKE_AGENT_EXECUTION_WORKFLOW, data_converter
from stigmer_server.approval_waits import DECIDE_TOOL_CALLS, DecisionBatch
from stigmer_server.config import ServerConfig
from stigmer_server.errors import FailedPrecondition, Unavailable
from stigmer_server.workflows import ExecutionWorkflowInput, TurnRunOptions
from stigmer_telemetry.tracing import temporal_interceptors

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT = timedelta(seconds=5)
_RPC_TIMEOUT = timedelta(seconds=10)
# An accepted decision is written on the status before the Update answers.
_UPDATE_TIMEOUT = timedelta(seconds=60)


class TemporalGateway:
    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client; Unavailable when Temporal cannot be reached now."""
        async with self._lock:
            if self._client is None:
                target = self._config.temporal_host_port
                try:
                    self._client = await Client.connect(
                        target,
                        namespace=self._config.temporal_namespace,
                        data_converter=data_converter(),
                        connect_timeout=_CONNECT_TIMEOUT,
                        interceptors=temporal_interceptors(),
                    )
                except Exception as error:
                    # Any failure to connect means the same thing to a caller.
                    raise Unavailable(f"Temporal at {target} is unreachable: {error}") from error
                logger.info("connected to Temporal at %s", target)
            return self._client

    def options(self) -> TurnRunOptions:
        turn = self._config.turn
        return TurnRunOptions(
            persistence_task_queue=self._config.persistence_task_queue,
            graphton_start_to_close_seconds=turn.start_to_close.total_seconds(),
            graphton_heartbeat_seconds=turn.heartbeat.total_seconds(),
            graphton_maximum_attempts=turn.maximum_attempts,
        )

    async def start(self, request: ExecutionWorkflowInput) -> None:
        """Start the execution's workflow (id = execution id) on the execution queue."""
        client = await self.client()
        try:
            await client.start_workflow(
                INVOKE_AGENT_EXECUTION_WORKFLOW,
                request,
                id=request.execution_id,
                task_queue=self._config.execution_task_queue,
                rpc_timeout=_RPC_TIMEOUT,
            )
        except RPCError as error:
            raise Unavailable(f"Temporal refused to start the workflow: {error.message}") from error

    async def signal(self, workflow_id: str, signal: str) -> bool:
        """Signal a workflow; False when no such workflow runs."""
        client = await self.client()
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
        try:
            await handle.signal(signal, rpc_timeout=_RPC_TIMEOUT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise Unavailable(f"Temporal refused the signal: {error.message}") from error
        return True

    async def workflow_status(self, workflow_id: str) -> WorkflowExecutionStatus | None:
        """The workflow's status; None when Temporal has no such workflow."""
        client = await self.client()
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
        try:
            description = await handle.describe(rpc_timeout=_RPC_TIMEOUT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise Unavailable(
                f"Temporal refused to describe the workflow: {error.message}"
            ) from error
        return description.status

    async def cancel(self, execution_id: str) -> bool:
        """Request cancellation; False when no such workflow runs (never started, or ended)."""
        client = await self.client()
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(execution_id)
        try:
            await handle.cancel(rpc_timeout=_RPC_TIMEOUT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise Unavailable(
                f"Temporal refused to cancel the workflow: {error.message}"
            ) from error
        return True

    async def decide(self, execution_id: str, batch: DecisionBatch) -> int:
        """Send decisions to the turn's workflow; how many calls still wait. The workflow's
        refusal (not waiting, a call already decided) is FailedPrecondition."""
        client = await self.client()
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(execution_id)
        try:
            waiting: int = await handle.execute_update(
                DECIDE_TOOL_CALLS, batch, result_type=int, rpc_timeout=_UPDATE_TIMEOUT
            )
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise FailedPrecondition(message) from None
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise FailedPrecondition(
                    f"execution_id: the turn {execution_id!r} is not running"
                ) from None
            raise Unavailable(f"Temporal refused the decision: {error.message}") from error
        return waiting
