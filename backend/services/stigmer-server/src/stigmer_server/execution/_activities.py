"""The server's own activities, run on the execution-persistence queue by this process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionStatusUpdate
from stigmer_contracts import ERROR_INVALID_INPUT, ERROR_NOT_FOUND, update_execution_status_defn
from stigmer_server import resources as kinds
from stigmer_server.errors import InvalidArgument, NotFound
from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.execution._workflow import AWAIT_SESSION_TURN
from stigmer_server.execution._writer import StatusWriter
from stigmer_server.storage import Store
from stigmer_status import is_final

logger = logging.getLogger(__name__)

# Waiting turns re-read the database this often, so an earlier turn that ended on another
# server (PostgreSQL, several servers) is noticed even without an in-process event.
_RECHECK_SECONDS = 5.0


class PersistenceActivities:
    def __init__(self, store: Store, hub: ExecutionHub, writer: StatusWriter) -> None:
        self._store = store
        self._hub = hub
        self._writer = writer

    @update_execution_status_defn
    async def update_execution_status(self, update: AgentExecutionStatusUpdate) -> None:
        """Persist and publish a status the workflow carries (a whole final status)."""
        try:
            result = await self._writer.apply(update.execution_id, update.status)
        except NotFound as error:
            raise ApplicationError(str(error), type=ERROR_NOT_FOUND, non_retryable=True) from error
        except InvalidArgument as error:
            raise ApplicationError(
                str(error), type=ERROR_INVALID_INPUT, non_retryable=True
            ) from error
        activity.logger.info(
            "persisted status of %s at sequence %d", update.execution_id, result.sequence
        )

    @activity.defn(name=AWAIT_SESSION_TURN)
    async def await_session_turn(self, execution_id: str) -> None:
        """Return once no earlier execution of the same session is unfinished."""
        while True:
            activity.heartbeat()
            ahead = await self._earlier_unfinished(execution_id)
            if ahead is None:
                return
            with self._hub.watch(ahead) as events:
                # Re-check after registering: the earlier turn may have ended in between.
                if await self._earlier_unfinished(execution_id) != ahead:
                    continue
                activity.logger.info("execution %s waits for %s", execution_id, ahead)
                deadline = asyncio.get_running_loop().time() + _RECHECK_SECONDS
                while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                    try:
                        event = await asyncio.wait_for(events.get(), timeout=remaining)
                    except TimeoutError:
                        break
                    if event.delta.HasField("phase") and is_final(event.delta.phase):
                        break

    async def _earlier_unfinished(self, execution_id: str) -> str | None:
        async with self._store.transaction() as tx:
            execution: Any = await tx.get(kinds.AGENT_EXECUTION, execution_id)
            if execution is None:
                raise ApplicationError(
                    f"AgentExecution {execution_id!r} not found",
                    type=ERROR_NOT_FOUND,
                    non_retryable=True,
                )
            unfinished = await tx.unfinished_executions(
                kinds.AGENT_EXECUTION, execution.spec.session_id
            )
        earlier = [other for other in unfinished if other < execution_id]
        return earlier[-1] if earlier else None
