"""The runner's Temporal activities, registered under the shared contract's names.

This module stays light (no langchain, no deepagents) so the worker can poll while the agent
stack is still loading: a turn waits for its dependencies, EnsureThread never needs them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runner.clients import StigmerClients
from agent_runner.config import TurnSettings
from agent_runner.errors import InvalidInputError, classify
from agent_runner.metrics import METRICS
from stigmer_contracts import (
    EXECUTE_GRAPHTON_OPTIONS,
    TurnOutcome,
    TurnRequest,
    attempt_token,
    cleanup_sandbox_defn,
    ensure_thread_defn,
    execute_graphton_defn,
)
from stigmer_telemetry.logs import execution_scope

if TYPE_CHECKING:
    from agent_runner.graphs import AgentGraphs
    from agent_runner.sandbox import SandboxProvider
    from agent_runner.turn import Turn

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnDependencies:
    """What a turn needs besides the clients: built once per worker, after start-up."""

    sandboxes: SandboxProvider
    graphs: AgentGraphs
    settings: TurnSettings


class RunnerActivities:
    def __init__(
        self,
        *,
        clients: StigmerClients,
        dependencies: Awaitable[TurnDependencies],
        heartbeat_interval: float,
    ) -> None:
        self._clients = clients
        self._dependencies = dependencies
        self._heartbeat_interval = heartbeat_interval

    @ensure_thread_defn
    async def ensure_thread(self, session_id: str, agent_id: str) -> str:
        logger.info(
            "EnsureThread session_id=%r (empty=%s) agent_id=%r (empty=%s)",
            session_id,
            not session_id,
            agent_id,
            not agent_id,
        )
        try:
            session = await self._clients.get_session(session_id)
            if session.spec.thread_id:
                return session.spec.thread_id
            session.spec.thread_id = f"thread-{uuid.uuid4().hex}"
            stored = await self._clients.update_session(session)
            logger.info("session %s: new thread %s", session_id, stored.spec.thread_id)
            return stored.spec.thread_id
        except Exception as exc:
            raise classify(exc) from exc

    @cleanup_sandbox_defn
    async def cleanup_sandbox(self, sandbox_id: str) -> bool:
        logger.info("CleanupSandbox sandbox_id=%r (empty=%s)", sandbox_id, not sandbox_id)
        try:
            if not sandbox_id:
                raise InvalidInputError("sandbox_id cannot be empty")
            dependencies = await self._loaded()
            return await dependencies.sandboxes.delete(sandbox_id)
        except Exception as exc:
            raise classify(exc) from exc

    @execute_graphton_defn
    async def execute_graphton(self, request: TurnRequest) -> TurnOutcome:
        # Heartbeats start first: even waiting for the agent stack must not look like a dead
        # worker to Temporal.
        heartbeat = asyncio.create_task(self._heartbeat(), name="heartbeat")
        try:
            with execution_scope(request.execution_id):
                return await self._execute(request)
        finally:
            heartbeat.cancel()
            (result,) = await asyncio.gather(heartbeat, return_exceptions=True)
            if isinstance(result, Exception):
                logger.error("execution %s: heartbeats died: %r", request.execution_id, result)

    async def _loaded(self) -> TurnDependencies:
        # Shielded: the load is shared by every activity, and cancelling one that waits for
        # it (a user's cancel of the first turn) must not cancel the load, which would stop
        # the runner.
        return await asyncio.shield(self._dependencies)

    async def _heartbeat(self) -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(self._heartbeat_interval)

    async def _execute(self, request: TurnRequest) -> TurnOutcome:
        # Loaded in the background since start-up; by the first turn it is normally there.
        from agent_runner.turn import AttemptContext, Turn

        dependencies = await self._loaded()
        info = activity.info()
        # The workflow may configure its own policy; the contract's is the fallback.
        policy = info.retry_policy or EXECUTE_GRAPHTON_OPTIONS.retry_policy
        maximum = policy.maximum_attempts
        turn = Turn(
            clients=self._clients,
            sandboxes=dependencies.sandboxes,
            graphs=dependencies.graphs,
            settings=dependencies.settings,
            execution_id=request.execution_id,
            thread_id=request.thread_id,
            context=AttemptContext(
                attempt=info.attempt,
                token=attempt_token(request.round, info.attempt),
                final_attempt=maximum > 0 and info.attempt >= maximum,
                cancel_requested=_cancel_requested,
            ),
            decisions=request.decisions,
        )
        try:
            return await _measured(turn)
        except ApplicationError:
            raise
        except Exception as exc:
            # Failures before the turn's status exists (bad ids, the server unreachable).
            raise classify(exc) from exc


async def _measured(turn: Turn) -> TurnOutcome:
    """Run the turn, counted in the runner's metrics by agent and outcome."""
    started = time.monotonic()
    outcome = "failed"
    METRICS.turns_running.inc()
    try:
        result = await turn.run()
        outcome = "completed"
        return result
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    finally:
        METRICS.turns_running.dec()
        METRICS.turns.labels(turn.agent_slug or "unknown", outcome).inc()
        METRICS.turn_seconds.labels(outcome).observe(time.monotonic() - started)


def _cancel_requested() -> bool:
    details = activity.cancellation_details()
    # No details (an SDK or test environment that gives none): treat it as the user's cancel.
    return details is None or details.cancel_requested
