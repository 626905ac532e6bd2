"""The agent stack a turn needs, loaded after the worker already polls.

Importing langchain and deepagents takes longer than the rest of start-up together; doing it
in a thread once the worker runs keeps "process start to polling" short, and the first turn
simply waits for it to finish.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from agent_runner.activities import TurnDependencies
from agent_runner.config import RunnerConfig, TurnSettings

if TYPE_CHECKING:
    from agent_runner.sandbox import SandboxProvider

logger = logging.getLogger(__name__)


async def open_dependencies(config: RunnerConfig, stack: AsyncExitStack) -> TurnDependencies:
    started = time.monotonic()
    await asyncio.to_thread(importlib.import_module, "agent_runner.turn")
    from agent_runner.checkpoints import open_checkpointer
    from agent_runner.graphs import AgentGraphs
    from agent_runner.models import DefaultModelFactory

    sandboxes = await asyncio.to_thread(open_sandboxes, config)
    checkpointer = await stack.enter_async_context(
        open_checkpointer(data_dir=config.data_dir, db_url=config.checkpoint_db_url)
    )
    logger.info(
        "agent stack ready in %.2f s (sandbox %s, isolation: %s)",
        time.monotonic() - started,
        sandboxes.kind,
        sandbox_isolation(sandboxes),
    )
    return TurnDependencies(
        sandboxes=sandboxes,
        graphs=AgentGraphs(models=DefaultModelFactory(config.providers), checkpointer=checkpointer),
        settings=TurnSettings(
            default_model=config.default_model,
            flush=config.flush,
        ),
    )


def open_sandboxes(config: RunnerConfig) -> SandboxProvider:
    """The configured provider; Daytona's SDK is imported only when it is the one."""
    if config.daytona is not None:
        from agent_runner.sandbox.daytona_provider import DaytonaSandboxProvider

        return DaytonaSandboxProvider(config.daytona, owner=config.sandbox_owner)
    from agent_runner.sandbox import LocalSandboxProvider

    return LocalSandboxProvider(config.sandbox)


def sandbox_isolation(sandboxes: SandboxProvider) -> str:
    if sandboxes.kind == "daytona":
        return "Daytona sandbox"
    return "bubblewrap" if getattr(sandboxes, "isolated", False) else "none"
