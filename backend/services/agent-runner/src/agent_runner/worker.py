"""The Temporal worker: only the runner's activities, on the execution task queue.

SIGTERM/SIGINT drain it: polling stops, running turns get the grace period to finish, then
they are cancelled (and hand their turn back to Temporal for another worker to resume).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from agent_runner.activities import RunnerActivities
from agent_runner.checkpoints import open_checkpointer
from agent_runner.clients import StigmerClients
from agent_runner.config import RunnerConfig
from agent_runner.models import DefaultModelFactory
from agent_runner.sandbox import LocalSandboxProvider, SandboxProvider
from agent_runner.turn import TurnSettings
from stigmer_contracts import data_converter

logger = logging.getLogger(__name__)


def sandbox_provider(config: RunnerConfig) -> SandboxProvider:
    if config.sandbox_type == "local":
        return LocalSandboxProvider(config.sandbox)
    raise ValueError(f"SANDBOX_TYPE {config.sandbox_type!r}: expected 'local'")


@asynccontextmanager
async def runner_worker(config: RunnerConfig) -> AsyncIterator[Worker]:
    """Everything a worker needs, built from the config and closed in reverse order."""
    async with AsyncExitStack() as stack:
        clients = StigmerClients.connect(config.backend_endpoint, config.api_key)
        stack.push_async_callback(clients.close)
        checkpointer = await stack.enter_async_context(
            open_checkpointer(data_dir=config.data_dir, db_url=config.checkpoint_db_url)
        )
        client = await Client.connect(
            config.temporal_address,
            namespace=config.temporal_namespace,
            data_converter=data_converter(),
        )
        activities = RunnerActivities(
            clients=clients,
            sandboxes=sandbox_provider(config),
            models=DefaultModelFactory(config.providers),
            checkpointer=checkpointer,
            settings=TurnSettings(
                default_model=config.default_model,
                flush=config.flush,
                heartbeat_interval=config.heartbeat_interval,
            ),
        )
        yield Worker(
            client,
            task_queue=config.task_queue,
            activities=[activities.ensure_thread, activities.execute_graphton],
            max_concurrent_activities=config.max_concurrent_turns,
            graceful_shutdown_timeout=timedelta(seconds=config.shutdown_grace),
            # A cancel reaches a turn only in a heartbeat's reply; the SDK's default throttle
            # (0.8 x the heartbeat timeout) would let a cancelled command run for ~24 s.
            max_heartbeat_throttle_interval=timedelta(seconds=config.heartbeat_interval),
            default_heartbeat_throttle_interval=timedelta(seconds=config.heartbeat_interval),
        )


async def serve(config: RunnerConfig) -> None:
    async with runner_worker(config) as worker:
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
        done, _ = await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stopped in done:
            logger.info("signal received: draining (grace %.0f s)", config.shutdown_grace)
            await worker.shutdown()
        else:
            stopped.cancel()
        await run
        logger.info("agent-runner stopped")
