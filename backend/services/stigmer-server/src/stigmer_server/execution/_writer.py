"""The one path by which an execution's status changes: merge, number, store, publish."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionStatusUpdateResult,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_server import resources as kinds
from stigmer_server.errors import InvalidArgument, NotFound
from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.storage import Store
from stigmer_server.validation import check_sizes
from stigmer_status import apply_delta, effective_delta, is_final

logger = logging.getLogger(__name__)


class StatusWriter:
    def __init__(self, store: Store, hub: ExecutionHub) -> None:
        self._store = store
        self._hub = hub
        # One lock per execution keeps "merge, store, publish" atomic and in order within
        # this process; the row lock (FOR UPDATE) does the same across PostgreSQL servers.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def apply(
        self, execution_id: str, delta: AgentExecutionStatus
    ) -> AgentExecutionStatusUpdateResult:
        if not execution_id:
            raise InvalidArgument("execution_id", "required: the AgentExecution id (aex-<ulid>)")
        check_delta(delta)
        lock = self._locks.get(execution_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[execution_id] = lock
        async with lock:
            async with self._store.transaction() as tx:
                execution: Any = await tx.get(kinds.AGENT_EXECUTION, execution_id, for_update=True)
                if execution is None:
                    raise NotFound("AgentExecution", execution_id, field="execution_id")
                status: AgentExecutionStatus = execution.status
                if delta.sequence and delta.sequence <= status.sequence:
                    return AgentExecutionStatusUpdateResult(sequence=status.sequence, applied=False)
                change = effective_delta(status, delta)
                _stamp_times(status, change)
                apply_delta(status, change)
                sequence = delta.sequence or status.sequence + 1
                status.sequence = sequence
                change.sequence = sequence
                await tx.replace(kinds.AGENT_EXECUTION, execution, slug_changed=False)
            self._hub.publish(execution_id, AgentExecutionEvent(sequence=sequence, delta=change))
        if change.HasField("phase") and is_final(change.phase):
            logger.info("execution %s ended %s", execution_id, ExecutionPhase.Name(status.phase))
        return AgentExecutionStatusUpdateResult(sequence=sequence, applied=True)


def check_delta(delta: AgentExecutionStatus) -> None:
    """Items need ids (they are merged by id) and a writer's sequence cannot be negative."""
    if delta.sequence < 0:
        raise InvalidArgument("status.sequence", f"expected 0 or more, got {delta.sequence}")
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


def _stamp_times(stored: AgentExecutionStatus, change: AgentExecutionStatus) -> None:
    """Record when a turn started and ended when the writer did not say, so watchers see it."""
    if not change.HasField("phase"):
        return
    now = Timestamp()
    now.GetCurrentTime()
    if (
        change.phase == ExecutionPhase.EXECUTION_IN_PROGRESS
        and not stored.HasField("started_at")
        and not change.HasField("started_at")
    ):
        change.started_at.CopyFrom(now)
    if (
        is_final(change.phase)
        and not is_final(stored.phase)
        and not stored.HasField("completed_at")
        and not change.HasField("completed_at")
    ):
        change.completed_at.CopyFrom(now)
