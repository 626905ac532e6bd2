"""Progressive status updates: batched by count and time, immediate on important events.

Each update carries the attempt's fencing token and the attempt's own number for it
(`attempt_sequence`, from 1). An update whose outcome is unknown (a timeout, the server
restarting) is resent as is, same number, before anything newer: the server applies a
number once, so a resend never doubles appended text. A failed update is never fatal:
  - unknown outcome or server unavailable: resent with the next flush;
  - refused as invalid (INVALID_ARGUMENT): logged and dropped, so one bad change cannot
    freeze the status for the rest of the turn;
  - refused because a newer attempt took over (FAILED_PRECONDITION): `Superseded` is raised,
    and this attempt stops writing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

import grpc
from grpc import aio

from agent_runner.config import FlushPolicy
from agent_runner.metrics import METRICS
from agent_runner.status._builder import StatusBuilder
from agent_runner.status._changes import Delta
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionStatusUpdate,
    AgentExecutionStatusUpdateResult,
)

logger = logging.getLogger(__name__)


class Superseded(RuntimeError):
    """A newer attempt of the turn writes its status now; this one must stop."""


class StatusUndelivered(RuntimeError):
    """The final status could not be delivered; a retry of the turn delivers it."""


class StatusSink(Protocol):
    async def update_status(
        self, update: AgentExecutionStatusUpdate
    ) -> AgentExecutionStatusUpdateResult: ...


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

    def reset(self) -> int:
        """Starts a new batch; returns how many events the one before held."""
        count, self._count, self._since = self._count, 0, None
        return count


class StatusPublisher:
    def __init__(
        self,
        *,
        execution_id: str,
        builder: StatusBuilder,
        sink: StatusSink,
        policy: FlushPolicy,
        attempt: int,
    ) -> None:
        self._execution_id = execution_id
        self._builder = builder
        self._sink = sink
        self._policy = policy
        self._attempt = attempt
        self._gate = FlushGate(policy)
        self._lock = asyncio.Lock()
        self._numbered = 0
        # The update sent last whose outcome is not known yet, with its number.
        self._in_flight: tuple[Delta, int] | None = None
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
                try:
                    await self.flush()
                except Superseded:
                    return  # the turn learns it with its next event or heartbeat

    async def flush(self) -> bool:
        """Sends what changed; False when the update is not stored yet (it is retried)."""
        async with self._lock:
            events = self._gate.reset()
            if self._in_flight is None:
                delta = self._builder.take_delta()
                if delta is None:
                    return True
                self._numbered += 1
                self._in_flight = (delta, self._numbered)
            delta, number = self._in_flight
            update = AgentExecutionStatusUpdate(
                execution_id=self._execution_id,
                status=delta.status,
                attempt=self._attempt,
                attempt_sequence=number,
            )
            started = time.monotonic()
            try:
                await self._sink.update_status(update)
            except aio.AioRpcError as error:
                return self._refused(error, delta, number)
            except Exception as error:
                logger.warning(
                    "execution %s: status update %d failed, resending it with the next flush: %s",
                    self._execution_id,
                    number,
                    error,
                )
                return False
            METRICS.status_update_seconds.observe(time.monotonic() - started)
            if events:  # zero: a resend of an update whose outcome was unknown
                METRICS.status_update_events.observe(events)
            self._delivered(delta, update)
            return True

    def _refused(self, error: aio.AioRpcError, delta: Delta, number: int) -> bool:
        code = error.code()
        if code == grpc.StatusCode.FAILED_PRECONDITION:
            raise Superseded(error.details() or "a newer attempt writes the status")
        if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE):
            logger.error(
                "execution %s: status update %d refused as invalid and dropped: %s",
                self._execution_id,
                number,
                error.details(),
            )
            self._in_flight = None
            self._builder.commit(delta)
            return False
        logger.warning(
            "execution %s: status update %d failed (%s), resending it with the next flush",
            self._execution_id,
            number,
            code.name,
        )
        return False

    def _delivered(self, delta: Delta, update: AgentExecutionStatusUpdate) -> None:
        self._in_flight = None
        self._builder.commit(delta)
        self.updates_sent += 1
        self.bytes_sent += update.ByteSize()

    async def close(self) -> None:
        """The final flush, retried with backoff; `StatusUndelivered` when it never got in."""
        delay = self._policy.final_backoff
        for attempt in range(1, self._policy.final_attempts + 1):
            if await self.flush() and not self._builder.pending:
                return
            if attempt < self._policy.final_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise StatusUndelivered(
            f"the final status of execution {self._execution_id} could not be delivered after "
            f"{self._policy.final_attempts} tries; a retry of the turn will deliver it"
        )
