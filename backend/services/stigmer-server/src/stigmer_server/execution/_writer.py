"""The one path by which an execution's status changes: fence, merge, number, log, publish.

A change is checked against the execution's head (phase, sequence, attempt) without decoding
the stored status, stored as one log row, and published to watchers here and, through the
hub's broadcaster, on every other server replica.

Writers: the runner (an attempt of the turn, `attempt` > 0) and the server itself (the
workflow's settlement, cancel, the reconciler; `attempt` 0). Only the newest attempt may
write: an older one is refused, so a runner that lost its activity to a retry cannot
interleave with its successor. Each attempt numbers its updates (`attempt_sequence`); a
repeat of a number already applied is acknowledged without applying it twice, which makes
a retried update harmless even though `append` deltas are not idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from google.protobuf.timestamp_pb2 import Timestamp

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionStatusUpdateResult,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_server.errors import FailedPrecondition, InvalidArgument, NotFound
from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.storage import ExecutionHead, Store, needs_compaction
from stigmer_server.validation import check_sizes
from stigmer_status import effective_delta, is_final, phase_rank

logger = logging.getLogger(__name__)


class StatusWriter:
    def __init__(self, store: Store, hub: ExecutionHub) -> None:
        self._store = store
        self._hub = hub
        # One lock per execution keeps "merge, store, publish" in order within this process;
        # the row lock (FOR UPDATE) does the same across server replicas.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def apply(
        self,
        execution_id: str,
        delta: AgentExecutionStatus,
        *,
        attempt: int = 0,
        attempt_sequence: int = 0,
    ) -> AgentExecutionStatusUpdateResult:
        if not execution_id:
            raise InvalidArgument("execution_id", "required: the AgentExecution id (aex-<ulid>)")
        check_writer(attempt, attempt_sequence)
        check_delta(delta)
        lock = self._locks.get(execution_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[execution_id] = lock
        async with lock:
            async with self._store.transaction() as tx:
                head = await tx.executions.head(execution_id, for_update=True)
                if head is None:
                    raise NotFound("AgentExecution", execution_id, field="execution_id")
                if _already_applied(execution_id, head, attempt, attempt_sequence) or _ends_again(
                    head, delta
                ):
                    return AgentExecutionStatusUpdateResult(sequence=head.sequence, applied=True)
                change = effective_delta(AgentExecutionStatus(phase=head.phase), delta)
                _stamp_times(head.phase, change)
                change.sequence = head.sequence + 1
                if attempt == 0:  # the server's own write leaves the fence as it was
                    attempt, attempt_sequence = head.attempt, head.attempt_sequence
                log_bytes = await tx.executions.append(
                    execution_id, head, change, attempt=attempt, attempt_sequence=attempt_sequence
                )
                if needs_compaction(log_bytes, head.snapshot_bytes):
                    await tx.compact_execution(execution_id)
                event = AgentExecutionEvent(sequence=change.sequence, delta=change)
                await self._hub.announce(tx, execution_id, event, attempt=attempt)
            self._hub.publish(execution_id, event, attempt=attempt)
        if change.HasField("phase") and is_final(change.phase) and not is_final(head.phase):
            logger.info("execution %s ended %s", execution_id, ExecutionPhase.Name(change.phase))
        return AgentExecutionStatusUpdateResult(sequence=change.sequence, applied=True)


def _ends_again(head: ExecutionHead, delta: AgentExecutionStatus) -> bool:
    """True for the same ending written again (SettleExecution retried after its answer was
    lost): a new sequence would hold nothing new, and watchers stop at the first ending."""
    if not is_final(head.phase) or delta.phase != head.phase:
        return False
    return {field.name for field, _ in delta.ListFields()} <= {"phase", "error"}


def _already_applied(
    execution_id: str, head: ExecutionHead, attempt: int, attempt_sequence: int
) -> bool:
    """True for a repeat of an applied update; refuses a superseded attempt."""
    if attempt == 0:
        return False
    if attempt < head.attempt:
        raise FailedPrecondition(
            f"attempt: attempt {attempt} of execution {execution_id!r} was superseded by "
            f"attempt {head.attempt} and may no longer write its status"
        )
    return attempt == head.attempt and attempt_sequence <= head.attempt_sequence


def check_writer(attempt: int, attempt_sequence: int) -> None:
    if attempt < 0 or attempt_sequence < 0:
        raise InvalidArgument("attempt", "expected 0 or more")
    if attempt and not attempt_sequence:
        raise InvalidArgument(
            "attempt_sequence", "required with attempt: the update's number, from 1"
        )
    if attempt_sequence and not attempt:
        raise InvalidArgument("attempt", "required with attempt_sequence: the writer's attempt")


def check_delta(delta: AgentExecutionStatus) -> None:
    """Items need ids (they are merged by id); the server numbers changes itself."""
    if delta.sequence:
        raise InvalidArgument(
            "status.sequence", f"assigned by the server: expected 0, got {delta.sequence}"
        )
    check_sizes(delta, "status")
    for field in ("messages", "tool_calls", "sub_agent_executions"):
        for index, item in enumerate(getattr(delta, field)):
            if not item.id:
                raise InvalidArgument(f"status.{field}[{index}].id", "required: items merge by id")
    for index, sub in enumerate(delta.sub_agent_executions):
        for field in ("messages", "tool_calls"):
            for inner, item in enumerate(getattr(sub, field)):
                if not item.id:
                    raise InvalidArgument(
                        f"status.sub_agent_executions[{index}].{field}[{inner}].id",
                        "required: items merge by id",
                    )
    for key in delta.todos:
        if not key:
            raise InvalidArgument("status.todos", "keys must not be empty")


def _stamp_times(stored_phase: ExecutionPhase.ValueType, change: AgentExecutionStatus) -> None:
    """Record when a turn started and ended when the writer did not say, so watchers see it.

    The stored phase tells whether it happened before: a turn is stamped started on its
    first move to IN_PROGRESS and ended on its first move to a final phase.
    """
    if not change.HasField("phase"):
        return
    now = Timestamp()
    now.GetCurrentTime()
    starting = change.phase == ExecutionPhase.EXECUTION_IN_PROGRESS
    if (
        starting
        and phase_rank(stored_phase) < phase_rank(ExecutionPhase.EXECUTION_IN_PROGRESS)
        and not change.HasField("started_at")
    ):
        change.started_at.CopyFrom(now)
    ending = is_final(change.phase) and not is_final(stored_phase)
    if ending and not change.HasField("completed_at"):
        change.completed_at.CopyFrom(now)
