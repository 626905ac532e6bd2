"""The Temporal worker: only the runner's activities, on the execution task queue.

SIGTERM/SIGINT drain it: polling stops, running turns get the grace period to finish, then
they are cancelled (and hand their turn back to Temporal for another worker to resume).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.worker import Worker

from agent_runner.activities import RunnerActivities, TurnDependencies
from agent_runner.clients import StigmerClients
from agent_runner.config import RunnerConfig
from agent_runner.dependencies import open_dependencies
from agent_runner.metrics import METRICS
from agent_runner.reaper import run_reaper, session_exists
from stigmer_contracts import data_converter
from stigmer_telemetry.metrics import serve_metrics
from stigmer_telemetry.tracing import temporal_interceptors

if TYPE_CHECKING:
    # The sandbox package loads deepagents; the worker must poll before it has.
    from agent_runner.sandbox import SandboxProvider

logger = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The agent stack could not be prepared; the runner exits instead of failing turns."""


async def serve(config: RunnerConfig) -> None:
    async with AsyncExitStack() as stack:
        clients = StigmerClients.connect(config.backend_endpoint, config.api_key)
        stack.push_async_callback(clients.close)
        client = await Client.connect(
            config.temporal_address,
            namespace=config.temporal_namespace,
            data_converter=data_converter(),
            interceptors=temporal_interceptors(),
        )
        if config.metrics_address:
            metrics = serve_metrics(config.metrics_address, METRICS.registry)
            stack.callback(metrics.close)
        METRICS.max_turns.set(config.max_concurrent_turns)
        dependencies = asyncio.create_task(open_dependencies(config, stack))
        activities = RunnerActivities(
            clients=clients,
            dependencies=dependencies,
            heartbeat_interval=config.heartbeat_interval,
        )
        worker = Worker(
            client,
            task_queue=config.task_queue,
            activities=[
                activities.ensure_thread,
                activities.execute_graphton,
                activities.cleanup_sandbox,
            ],
            max_concurrent_activities=config.max_concurrent_turns,
            graceful_shutdown_timeout=timedelta(seconds=config.shutdown_grace),
            # A cancel reaches a turn only in a heartbeat's reply; the SDK's default throttle
            # (0.8 x the heartbeat timeout) would let a cancelled command run for ~24 s.
            max_heartbeat_throttle_interval=timedelta(seconds=config.heartbeat_interval),
            default_heartbeat_throttle_interval=timedelta(seconds=config.heartbeat_interval),
        )
        reaper = asyncio.create_task(
            run_reaper(_sandboxes(dependencies), session_exists(clients), config.reaper),
            name="sandbox-reaper",
        )
        try:
            await _run(config, worker, dependencies)
        finally:
            reaper.cancel()
            (result,) = await asyncio.gather(reaper, return_exceptions=True)
            if isinstance(result, Exception):
                logger.error("the sandbox reaper died: %r", result)


async def _sandboxes(dependencies: asyncio.Task[TurnDependencies]) -> SandboxProvider:
    return (await dependencies).sandboxes


async def _run(
    config: RunnerConfig, worker: Worker, dependencies: asyncio.Task[TurnDependencies]
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    run = asyncio.create_task(worker.run())
    logger.info(
        "agent-runner polling task queue %r on %s (namespace %r), backend %s, sandbox %s, "
        "checkpoints %s, up to %d concurrent turns",
        config.task_queue,
        config.temporal_address,
        config.temporal_namespace,
        config.backend_endpoint,
        config.sandbox_type,
        config.checkpoint_target,
        config.max_concurrent_turns,
    )
    stopped = asyncio.create_task(stop.wait())
    failure: BaseException | None = None
    pending: set[asyncio.Future[Any]] = {run, stopped, dependencies}
    while True:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if dependencies in done and dependencies.exception() is not None:
            failure = dependencies.exception()
            logger.error("the agent stack could not be prepared: %s", failure)
            break
        if stopped in done:
            logger.info("signal received: draining (grace %.0f s)", config.shutdown_grace)
            break
        if run in done:
            break
    if not run.done():
        await worker.shutdown()
    stopped.cancel()
    if not dependencies.done():
        dependencies.cancel()
    await asyncio.gather(dependencies, return_exceptions=True)
    await run
    logger.info("agent-runner stopped")
    if failure is not None:
        raise StartupError(str(failure)) from failure
