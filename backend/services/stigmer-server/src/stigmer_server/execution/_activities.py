"""The server's own activities, run on the execution-persistence queue by this process."""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_contracts import ERROR_INVALID_INPUT, ERROR_NOT_FOUND
from stigmer_server import resources as kinds
from stigmer_server.approval_waits import (
    RECORD_APPROVAL_DECISIONS,
    TIMEOUT_DECIDER,
    DecisionRecord,
)
from stigmer_server.errors import InvalidArgument, NotFound
from stigmer_server.execution._approvals import decision_delta
from stigmer_server.execution._turns import SessionTurns
from stigmer_server.execution._writer import StatusWriter
from stigmer_server.metrics import METRICS
from stigmer_server.storage import Store, typed
from stigmer_server.workflows import SESSION_TURN_READY, SETTLE_EXECUTION, Settlement

logger = logging.getLogger(__name__)


class PersistenceActivities:
    def __init__(self, writer: StatusWriter, turns: SessionTurns, store: Store) -> None:
        self._writer = writer
        self._turns = turns
        self._store = store

    @activity.defn(name=RECORD_APPROVAL_DECISIONS)
    async def record_approval_decisions(self, record: DecisionRecord) -> None:
        """Write accepted decisions (who, when, what) on the waiting tool calls."""
        stored = typed(
            await self._store.get(kinds.AGENT_EXECUTION, record.execution_id), AgentExecution
        )
        if stored is None:
            raise ApplicationError(
                f"execution {record.execution_id!r} not found",
                type=ERROR_NOT_FOUND,
                non_retryable=True,
            )
        delta = decision_delta(stored.status, record)
        if delta.tool_calls or delta.sub_agent_executions:
            await self._writer.apply(record.execution_id, delta)
        by = "timeout" if record.decided_by == TIMEOUT_DECIDER else "person"
        for decision in record.decisions:
            name = ApprovalDecisionType.Name(decision.type).removeprefix("APPROVAL_DECISION_")  # type: ignore[arg-type]
            METRICS.approval_decisions.labels(name.lower(), by).inc()
        activity.logger.info(
            "execution %s: %d decision(s) by %s recorded",
            record.execution_id,
            len(record.decisions),
            record.decided_by,
        )

    @activity.defn(name=SETTLE_EXECUTION)
    async def settle_execution(self, settlement: Settlement) -> None:
        """Record the turn's outcome, then release its session to the next turn."""
        status = AgentExecutionStatus(phase=ExecutionPhase.ValueType(settlement.phase))
        if settlement.error:
            status.error = settlement.error
        try:
            result = await self._writer.apply(settlement.execution_id, status)
        except NotFound as error:
            raise ApplicationError(str(error), type=ERROR_NOT_FOUND, non_retryable=True) from None
        except InvalidArgument as error:
            raise ApplicationError(
                str(error), type=ERROR_INVALID_INPUT, non_retryable=True
            ) from None
        await self._turns.release(settlement.execution_id)
        METRICS.waiting(settlement.execution_id, False)
        METRICS.turns_settled.labels(ExecutionPhase.Name(status.phase)).inc()
        activity.logger.info("settled %s at sequence %d", settlement.execution_id, result.sequence)

    @activity.defn(name=SESSION_TURN_READY)
    async def session_turn_ready(self, execution_id: str) -> bool:
        """True once no earlier turn of the execution's session holds the session."""
        try:
            ready = await self._turns.ready(execution_id)
        except NotFound as error:
            raise ApplicationError(str(error), type=ERROR_NOT_FOUND, non_retryable=True) from None
        METRICS.waiting(execution_id, not ready)
        return ready
