"""InvokeAgentExecutionWorkflow: one turn, from waiting for its session to its settlement.

Deterministic code only: the workflow reads nothing but its input, activity results and
signals. This module imports nothing heavy on purpose: Temporal's sandbox re-imports a
workflow's modules for every workflow run, and everything it imports is either passed through
(`stigmer_server.execution.workflow_sandbox`) or light.

The steps (docs/architecture/workflow.md):
  1. when an earlier turn of the session still holds it: SessionTurnReady, re-checked on the
     SessionTurnReleased signal (or every few minutes, should a signal be lost);
  2. EnsureThread, then ExecuteGraphton (the runner writes the status as it goes); when the
     run stops at tool calls that need approval, the workflow waits (no activity running) for
     the DecideToolCalls Update, records the decisions (RecordApprovalDecisions) and runs
     ExecuteGraphton again with them, as many rounds as the turn needs;
  3. SettleExecution: the outcome (phase, error) recorded, the session released for the next
     turn. It runs on success, failure and cancellation alike.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
    from stigmer_contracts import (
        EXECUTE_GRAPHTON_OPTIONS,
        INVOKE_AGENT_EXECUTION_WORKFLOW,
        NON_RETRYABLE_ERROR_TYPES,
        ActivityOptions,
        ApprovalDecision,
        TurnOutcome,
        TurnRequest,
        execute_ensure_thread,
        execute_graphton,
    )
    from stigmer_server.approval_waits import (
        DECIDE_TOOL_CALLS,
        ERROR_DECISION_REFUSED,
        RECORD_APPROVAL_DECISIONS,
        TIMEOUT_DECIDER,
        TIMEOUT_FAIL,
        ApprovalRound,
        DecidedCall,
        DecisionBatch,
        DecisionRecord,
        timeout_rejection,
    )
    from stigmer_status import is_final

# The server's own activities, on the persistence task queue.
SESSION_TURN_READY: Final = "SessionTurnReady"
SETTLE_EXECUTION: Final = "SettleExecution"
# Sent by SettleExecution to the next turn of the same session.
SESSION_TURN_RELEASED: Final = "SessionTurnReleased"
# A waiting turn re-checks this often even without a signal (a signal to a workflow that was
# not started yet is lost; the check after start covers that, this covers the rest).
_RECHECK: Final = timedelta(minutes=5)
# The shortest wait for a timeout already due (a timer of 0 would not be a timer).
_TICK: Final = timedelta(milliseconds=10)
_SERVER_ACTIVITY_RETRY: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
)


@dataclass(frozen=True)
class TurnRunOptions:
    """How the workflow runs ExecuteGraphton: the server's configuration for this turn."""

    persistence_task_queue: str
    graphton_start_to_close_seconds: float
    graphton_heartbeat_seconds: float
    graphton_maximum_attempts: int


@dataclass(frozen=True)
class ExecutionWorkflowInput:
    """Ids and options only: the turn's message and environment stay in the server."""

    execution_id: str
    session_id: str
    agent_id: str
    # True when an earlier turn of the session held it when this one was created.
    wait_for_session: bool
    options: TurnRunOptions


@dataclass(frozen=True)
class Settlement:
    """SettleExecution's input: the outcome to record, then the session is released."""

    execution_id: str
    phase: int
    error: str = ""


@workflow.defn(name=INVOKE_AGENT_EXECUTION_WORKFLOW)
class InvokeAgentExecutionWorkflow:
    def __init__(self) -> None:
        self._released = False
        self._request: ExecutionWorkflowInput | None = None
        # Set while the turn waits for decisions on tool calls.
        self._round: ApprovalRound | None = None
        # True while ExecuteGraphton runs: a decision may arrive between the runner storing
        # "awaiting approval" and its outcome reaching the workflow.
        self._running = False

    @workflow.signal(name=SESSION_TURN_RELEASED)
    def session_turn_released(self) -> None:
        self._released = True

    @workflow.update(name=DECIDE_TOOL_CALLS)
    async def decide_tool_calls(self, batch: DecisionBatch) -> int:
        """Accept decisions on waiting calls; answers how many calls still wait."""
        if self._round is None:
            # Accepted by the validator while the run that stops was still finishing: the
            # run's outcome says what waits, and the decisions are checked against that.
            await workflow.wait_condition(lambda: self._round is not None or not self._running)
        waiting = self._round
        if waiting is None:
            _not_waiting()
        waiting.check(batch)
        waiting.accept(batch)
        await self._record(waiting, batch.decisions, batch.decided_by)
        return len(waiting.undecided())

    @decide_tool_calls.validator
    def _check_decisions(self, batch: DecisionBatch) -> None:
        if self._round is not None:
            self._round.check(batch)
        elif not self._running:
            _not_waiting()

    @workflow.run
    async def run(self, request: ExecutionWorkflowInput) -> TurnOutcome:
        self._request = request
        try:
            if request.wait_for_session:
                await self._wait_for_session(request)
            outcome = await self._rounds(request)
        except asyncio.CancelledError:
            await self._settle(request, ExecutionPhase.EXECUTION_CANCELLED)
            raise
        except ActivityError as error:
            if isinstance(error.cause, CancelledError):
                await self._settle(request, ExecutionPhase.EXECUTION_CANCELLED)
                raise
            message = describe_failure(error)
            await self._settle(request, ExecutionPhase.EXECUTION_FAILED, message)
            raise ApplicationError(message, non_retryable=True) from None
        reported = ExecutionPhase.ValueType(outcome.phase)
        phase = reported if is_final(reported) else ExecutionPhase.EXECUTION_COMPLETED
        await self._settle(request, phase, outcome.error)
        return TurnOutcome(phase=phase, error=outcome.error)

    async def _rounds(self, request: ExecutionWorkflowInput) -> TurnOutcome:
        """ExecuteGraphton, and again after each wait for approval, until the turn ends."""
        queue = workflow.info().task_queue
        thread_id = await execute_ensure_thread(
            request.session_id, request.agent_id, task_queue=queue
        )
        round_ = 1
        decisions: tuple[ApprovalDecision, ...] = ()
        while True:
            self._running = True
            try:
                outcome = await execute_graphton(
                    TurnRequest(
                        execution_id=request.execution_id,
                        thread_id=thread_id,
                        round=round_,
                        decisions=decisions,
                    ),
                    task_queue=queue,
                    options=_graphton_options(request.options),
                )
            finally:
                self._running = False
            if outcome.phase != ExecutionPhase.EXECUTION_AWAITING_APPROVAL:
                return outcome
            waiting = ApprovalRound(outcome.approvals, workflow.now())
            failure = await self._wait_for_decisions(waiting)
            if failure:
                return TurnOutcome(phase=ExecutionPhase.EXECUTION_FAILED, error=failure)
            decisions = tuple(
                ApprovalDecision(
                    tool_call_id=call.tool_call_id,
                    interrupt_id=call.interrupt_id,
                    position=call.position,
                    type=decided.type,
                    edited_args_json=decided.edited_args_json,
                    message=decided.message,
                )
                for call, decided in waiting.resume_order()
            )
            round_ += 1

    async def _wait_for_decisions(self, waiting: ApprovalRound) -> str:
        """Wait until every call is decided (or timed out); an error when a timeout fails it."""
        self._round = waiting
        try:
            while not waiting.complete:
                deadline = waiting.next_deadline()
                timeout = None if deadline is None else max(deadline - workflow.now(), _TICK)
                try:
                    await workflow.wait_condition(lambda: waiting.complete, timeout=timeout)
                except TimeoutError:
                    failure = await self._time_out(waiting)
                    if failure:
                        return failure
        finally:
            self._round = None
        return ""

    async def _time_out(self, waiting: ApprovalRound) -> str:
        expired = waiting.expired(workflow.now())
        for call in expired:
            if call.on_timeout == TIMEOUT_FAIL:
                return (
                    f"tool call {call.tool_call_id} ({call.tool_name}) waited more than "
                    f"{call.timeout_seconds:g} seconds for approval"
                )
        rejections = tuple(timeout_rejection(call) for call in expired)
        if rejections:
            waiting.accept(DecisionBatch(decisions=rejections, decided_by=TIMEOUT_DECIDER))
            await self._record(waiting, rejections, TIMEOUT_DECIDER)
        return ""

    async def _record(
        self, waiting: ApprovalRound, decisions: tuple[DecidedCall, ...], decided_by: str
    ) -> None:
        assert self._request is not None
        waiting.recording += 1
        try:
            await workflow.execute_activity(
                RECORD_APPROVAL_DECISIONS,
                DecisionRecord(
                    execution_id=self._request.execution_id,
                    decisions=decisions,
                    decided_by=decided_by,
                    decided_at=workflow.now().timestamp(),
                ),
                task_queue=self._request.options.persistence_task_queue,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_SERVER_ACTIVITY_RETRY,
            )
        finally:
            waiting.recording -= 1

    async def _wait_for_session(self, request: ExecutionWorkflowInput) -> None:
        while True:
            # Cleared before the check: a signal arriving during the check is not lost.
            self._released = False
            ready: bool = await workflow.execute_activity(
                SESSION_TURN_READY,
                request.execution_id,
                result_type=bool,
                task_queue=request.options.persistence_task_queue,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_SERVER_ACTIVITY_RETRY,
            )
            if ready:
                return
            try:
                await workflow.wait_condition(lambda: self._released, timeout=_RECHECK)
            except TimeoutError:
                continue

    async def _settle(
        self, request: ExecutionWorkflowInput, phase: ExecutionPhase.ValueType, error: str = ""
    ) -> None:
        await workflow.execute_activity(
            SETTLE_EXECUTION,
            Settlement(execution_id=request.execution_id, phase=phase, error=error),
            task_queue=request.options.persistence_task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_SERVER_ACTIVITY_RETRY,
        )


def _not_waiting() -> NoReturn:
    raise ApplicationError(
        "execution_id: the turn is not waiting for approval",
        type=ERROR_DECISION_REFUSED,
        non_retryable=True,
    )


def describe_failure(error: ActivityError) -> str:
    """The text users see: the runner's own (redacted) message when it gave one."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        kind = f"{cause.type}: " if cause.type else ""
        return f"{error.activity_type} failed: {kind}{cause.message}"
    if isinstance(cause, TemporalTimeoutError):
        return f"{error.activity_type} timed out ({cause.type.name if cause.type else 'unknown'})"
    return f"{error.activity_type} failed: {cause or error}"


def _graphton_options(options: TurnRunOptions) -> ActivityOptions:
    base = EXECUTE_GRAPHTON_OPTIONS
    return ActivityOptions(
        start_to_close_timeout=timedelta(seconds=options.graphton_start_to_close_seconds),
        heartbeat_timeout=timedelta(seconds=options.graphton_heartbeat_seconds),
        retry_policy=RetryPolicy(
            initial_interval=base.retry_policy.initial_interval,
            backoff_coefficient=base.retry_policy.backoff_coefficient,
            maximum_interval=base.retry_policy.maximum_interval,
            maximum_attempts=options.graphton_maximum_attempts,
            non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
        ),
    )
