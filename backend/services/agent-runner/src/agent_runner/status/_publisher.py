"""Progressive status updates: batched by count and time, immediate on important events.

A failed update is logged and its changes stay marked, so the next flush carries them; it is
never fatal to the turn. Updates are numbered `last + 1` from the stored sequence read at the
start of the attempt (docs/architecture/status-model.md), which makes a retried update
harmless. After a failure whose outcome is unknown the stored sequence is read again, so a
delta that did arrive is not sent twice (its `append` text would double).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from agent_runner.config import FlushPolicy
from agent_runner.status._builder import StatusBuilder
from agent_runner.status._changes import Delta
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionStatusUpdate,
    AgentExecutionStatusUpdateResult,
)

logger = logging.getLogger(__name__)


class StatusSink(Protocol):
    async def update_status(
        self, update: AgentExecutionStatusUpdate
    ) -> AgentExecutionStatusUpdateResult: ...

    async def stored_sequence(self, execution_id: str) -> int: ...


class FlushGate:
    """Decides when batched events are due: after `max_events`, or `max_delay` after the first."""

    def __init__(self, policy: FlushPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._count = 0
        self._since: float | None = None

    def note(self, *, immediate: bool) -> bool:
        self._count += 1
        if self._since is None:
            self._since = self._clock()
        return immediate or self._count >= self._policy.max_events or self.overdue()

    def overdue(self) -> bool:
        return self._since is not None and self._clock() - self._since >= self._policy.max_delay

    def reset(self) -> None:
        self._count = 0
        self._since = None


class StatusPublisher:
    def __init__(
        self,
        *,
        execution_id: str,
        builder: StatusBuilder,
        sink: StatusSink,
        policy: FlushPolicy,
        last_sequence: int,
    ) -> None:
        self._execution_id = execution_id
        self._builder = builder
        self._sink = sink
        self._policy = policy
        self._gate = FlushGate(policy)
        self._last = last_sequence
        self._lock = asyncio.Lock()
        self._in_doubt: tuple[Delta, int] | None = None
        self.updates_sent = 0
        self.bytes_sent = 0

    async def event(self, *, immediate: bool) -> None:
        if self._gate.note(immediate=immediate):
            await self.flush()

    async def run_timer(self) -> None:
        """Flushes a batch that waited `max_delay`, even when no further event arrives."""
        while True:
            await asyncio.sleep(self._policy.max_delay / 2)
            if self._builder.pending and self._gate.overdue():
                await self.flush()

    async def flush(self) -> bool:
        """Sends what changed; False when the update failed (it is retried with the next flush)."""
        async with self._lock:
            self._gate.reset()
            try:
                await self._settle_doubt()
            except Exception as exc:
                logger.warning(
                    "execution %s: reading the stored sequence failed: %s", self._execution_id, exc
                )
                return False
            delta = self._builder.take_delta()
            if delta is None:
                return True
            sequence = self._last + 1
            delta.status.sequence = sequence
            update = AgentExecutionStatusUpdate(
                execution_id=self._execution_id, status=delta.status
            )
            try:
                result = await self._sink.update_status(update)
            except Exception as exc:
                logger.warning(
                    "execution %s: status update %d failed, retrying with the next flush: %s",
                    self._execution_id,
                    sequence,
                    exc,
                )
                self._in_doubt = (delta, sequence)
                return False
            self.updates_sent += 1
            self.bytes_sent += update.ByteSize()
            if result.applied:
                self._last = sequence
                self._builder.commit(delta)
                return True
            # Another writer moved the sequence on: renumber and resend these changes.
            logger.warning(
                "execution %s: status update %d was not applied (stored sequence %d)",
                self._execution_id,
                sequence,
                result.sequence,
            )
            self._last = result.sequence
            return False

    async def _settle_doubt(self) -> None:
        if self._in_doubt is None:
            return
        delta, sequence = self._in_doubt
        stored = await self._sink.stored_sequence(self._execution_id)
        if stored >= sequence:
            self._builder.commit(delta)
        self._last = max(self._last, stored)
        self._in_doubt = None

    async def close(self) -> bool:
        """The final flush, retried with backoff; False when the server never took it."""
        delay = self._policy.final_backoff
        for attempt in range(1, self._policy.final_attempts + 1):
            if await self.flush() and not self._builder.pending:
                return True
            if attempt < self._policy.final_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        logger.error(
            "execution %s: the final status update failed %d times; the workflow persists the "
            "returned status instead",
            self._execution_id,
            self._policy.final_attempts,
        )
        return False
