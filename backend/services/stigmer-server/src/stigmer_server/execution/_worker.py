"""The Temporal workers inside the server, kept running for as long as the server is."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from stigmer_server.config import ServerConfig
from stigmer_server.errors import Unavailable
from stigmer_server.execution._activities import PersistenceActivities
from stigmer_server.execution._temporal import TemporalGateway
from stigmer_server.workflows import InvokeAgentExecutionWorkflow

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 30.0


def workflow_sandbox() -> SandboxedWorkflowRunner:
    # Proto stubs, our pure libraries and OpenTelemetry (the tracing interceptor's
    # workflow side) are deterministic here; passing them through keeps
    # message classes identical inside and outside the sandbox and spares re-importing them
    # for every workflow run. The workflow module itself (stigmer_server.workflows) imports
    # nothing else, so a new turn's workflow costs the server almost no import work.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "ai", "google.protobuf", "stigmer_contracts", "stigmer_status", "opentelemetry"
        )
    )


async def run_workers(
    gateway: TemporalGateway,
    config: ServerConfig,
    activities: PersistenceActivities,
    stopping: asyncio.Event,
) -> None:
    """Run the workflow worker and the persistence worker until `stopping` is set.

    Temporal may be down when the server starts or go away later: connect with backoff,
    and start the workers again after they fail, instead of taking the API down with them.
    """
    delay = 1.0
    while not stopping.is_set():
        try:
            client = await gateway.client()
        except Unavailable as error:
            logger.warning("workers not running: %s; retrying in %.0f s", error, delay)
            await _sleep_unless(stopping, delay)
            delay = min(delay * 2, _MAX_BACKOFF)
            continue
        workers = [
            Worker(
                client,
                task_queue=config.execution_task_queue,
                workflows=[InvokeAgentExecutionWorkflow],
                workflow_runner=workflow_sandbox(),
            ),
            Worker(
                client,
                task_queue=config.persistence_task_queue,
                activities=[
                    activities.settle_execution,
                    activities.session_turn_ready,
                    activities.record_approval_decisions,
                ],
            ),
        ]
        logger.info(
            "workers polling %r (workflow) and %r (activities)",
            config.execution_task_queue,
            config.persistence_task_queue,
        )
        runs = [asyncio.create_task(worker.run()) for worker in workers]
        stop = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait([*runs, stop], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        for run in runs:
            if run in done and run.exception() is not None:
                logger.error("a worker stopped: %s; restarting", run.exception())
        await asyncio.gather(*runs, return_exceptions=True)
        if not stopping.is_set():
            await _sleep_unless(stopping, delay)
            delay = min(delay * 2, _MAX_BACKOFF)


async def _sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
