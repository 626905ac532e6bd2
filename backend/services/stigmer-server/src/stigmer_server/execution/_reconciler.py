"""Ends turns left between phases, so no session waits forever behind one.

A turn holds its session until its workflow settles it. Three faults leave it holding the
session with nothing to settle it: the server stopped between storing the turn and starting
its workflow; someone terminated the workflow in Temporal; the settlement itself failed for
good. Every interval the reconciler takes the turns that still hold their session and have
not changed for a while, asks Temporal about each one's workflow, and ends those whose
workflow is gone or closed: the phase FAILED (CANCELLED for a cancelled workflow) with an
error saying what happened, then the session released. A running workflow is left alone,
however long it runs (a turn may wait days for an approval). Several replicas may sweep at
once: settling is idempotent (phases only move forward, release is a flag).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from temporalio.client import WorkflowExecutionStatus

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_server.config import ReconcileOptions
from stigmer_server.errors import Unavailable
from stigmer_server.execution._temporal import TemporalGateway
from stigmer_server.execution._turns import SessionTurns
from stigmer_server.execution._writer import StatusWriter
from stigmer_server.storage import Store
from stigmer_status import is_final

logger = logging.getLogger(__name__)

_BATCH: Final = 200
_LIVE: Final = frozenset(
    {WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW}
)


def verdict(status: WorkflowExecutionStatus | None) -> tuple[int, str]:
    """The phase and error a turn ends with when its workflow is in `status`."""
    if status is None:
        return (
            ExecutionPhase.EXECUTION_FAILED,
            "the turn's workflow does not exist in Temporal: it was never started (the server "
            "stopped between storing the turn and starting it) or it was removed",
        )
    if status == WorkflowExecutionStatus.CANCELED:
        return ExecutionPhase.EXECUTION_CANCELLED, "the turn's workflow was cancelled"
    name = status.name.lower().replace("_", " ")
    return (
        ExecutionPhase.EXECUTION_FAILED,
        f"the turn's workflow ended ({name}) without recording the turn's outcome",
    )


class Reconciler:
    def __init__(
        self,
        store: Store,
        writer: StatusWriter,
        turns: SessionTurns,
        temporal: TemporalGateway,
        options: ReconcileOptions,
    ) -> None:
        self._store = store
        self._writer = writer
        self._turns = turns
        self._temporal = temporal
        self._options = options

    async def run(self, stopping: asyncio.Event) -> None:
        if self._options.interval <= 0:
            return
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self._options.interval)
            if stopping.is_set():
                return
            try:
                await self.sweep()
            except Unavailable as error:
                logger.info("reconciler skipped a sweep: %s", error)
            except Exception:
                logger.exception("reconciler sweep failed")

    async def sweep(self) -> int:
        """One pass; returns how many turns it ended."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self._options.grace)
        async with self._store.transaction() as tx:
            stale = await tx.executions.stale_unreleased(cutoff, _BATCH)
        ended = 0
        for execution_id in stale:
            status = await self._temporal.workflow_status(execution_id)
            if status in _LIVE:
                continue
            await self._end(execution_id, status)
            ended += 1
        return ended

    async def _end(self, execution_id: str, status: WorkflowExecutionStatus | None) -> None:
        async with self._store.transaction() as tx:
            head: Any = await tx.executions.head(execution_id)
        if head is not None and not is_final(head.phase):
            phase, error = verdict(status)
            ended = AgentExecutionStatus(phase=ExecutionPhase.ValueType(phase), error=error)
            await self._writer.apply(execution_id, ended)
            logger.warning("reconciler ended execution %s: %s", execution_id, error)
        await self._turns.release(execution_id)
