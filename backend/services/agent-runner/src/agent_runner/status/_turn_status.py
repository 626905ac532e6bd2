"""A turn's status from its first step: the builder, its publisher and the flush timer.

The turn feeds stream events in and reports how it ended; this class keeps the status
consistent with that and delivers it. The outcome-specific endings:
  - completed: the final update must reach the server, or `StatusUndelivered` is raised so
    Temporal retries the turn (the retry finds the finished turn in its checkpoint and
    delivers the status without running anything again);
  - cancelled or failed: the final update is tried; when it does not get in, the workflow's
    settlement still records the phase and error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agent_runner.config import FlushPolicy
from agent_runner.environment import Redactor
from agent_runner.status._builder import StatusBuilder
from agent_runner.status._previews import PreviewCall, PreviewStream
from agent_runner.status._publisher import StatusPublisher, StatusSink, StatusUndelivered
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase

logger = logging.getLogger(__name__)


class TurnStatus:
    def __init__(
        self,
        *,
        execution_id: str,
        sink: StatusSink,
        previews: PreviewCall,
        policy: FlushPolicy,
        attempt: int,
        redact: Redactor,
    ) -> None:
        self._id = execution_id
        self.builder = StatusBuilder(redact=redact)
        self._publisher = StatusPublisher(
            execution_id=execution_id,
            builder=self.builder,
            sink=sink,
            policy=policy,
            attempt=attempt,
        )
        # Streamed text goes out at once as previews; the status itself stays batched.
        self._previews = PreviewStream(previews, execution_id=execution_id, attempt=attempt)

    @contextlib.asynccontextmanager
    async def publishing(self) -> AsyncIterator[None]:
        """Batched updates go out on time while the turn runs inside this block."""
        timer = asyncio.create_task(self._publisher.run_timer(), name=f"status-timer-{self._id}")
        try:
            yield
        finally:
            await self._previews.close()
            timer.cancel()
            (result,) = await asyncio.gather(timer, return_exceptions=True)
            if isinstance(result, Exception):
                logger.error("execution %s: the status timer died: %r", self._id, result)

    async def event(self, namespace: Sequence[str], mode: str, payload: Any) -> None:
        immediate = self.builder.handle(namespace, mode, payload)
        preview = self.builder.take_preview()
        if preview is not None:
            self._previews.send(preview)
        await self._publisher.event(immediate=immediate)

    async def flush(self) -> None:
        await self._publisher.flush()

    async def completed(self) -> None:
        self.builder.finish(ExecutionPhase.EXECUTION_COMPLETED)
        await self._publisher.close()
        logger.info(
            "execution %s: completed with %d status updates (%d bytes)",
            self._id,
            self._publisher.updates_sent,
            self._publisher.bytes_sent,
        )

    async def awaiting_approval(self) -> None:
        """The run stopped at calls that need a decision: the status must say so before the
        activity ends, or the workflow would wait on calls nobody can see."""
        self.builder.awaiting_approval()
        await self._publisher.close()
        logger.info("execution %s: waiting for approval", self._id)

    async def cancelled(self) -> None:
        self.builder.finish(ExecutionPhase.EXECUTION_CANCELLED, "the turn was cancelled")
        await _shielded(self._close_trying())

    async def failed(self, error: str, *, final: bool) -> None:
        # A retryable failure keeps the phase open, or the retry could never complete it.
        self.builder.record_error(error, final=final)
        await _shielded(self._close_trying())

    async def _close_trying(self) -> None:
        with contextlib.suppress(StatusUndelivered):
            await self._publisher.close()


async def _shielded(close: Any) -> None:
    # The final update must go out even while the turn's task is being cancelled.
    task = asyncio.ensure_future(close)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
