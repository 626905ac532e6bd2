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

from agent_runner.activities import TurnDependencies
from agent_runner.config import RunnerConfig, TurnSettings

logger = logging.getLogger(__name__)


async def open_dependencies(config: RunnerConfig, stack: AsyncExitStack) -> TurnDependencies:
    started = time.monotonic()
    await asyncio.to_thread(importlib.import_module, "agent_runner.turn")
    from agent_runner.checkpoints import open_checkpointer
    from agent_runner.models import DefaultModelFactory
    from agent_runner.sandbox import LocalSandboxProvider

    if config.sandbox_type != "local":
        raise ValueError(f"SANDBOX_TYPE {config.sandbox_type!r}: expected 'local'")
    sandboxes = await asyncio.to_thread(LocalSandboxProvider, config.sandbox)
    checkpointer = await stack.enter_async_context(
        open_checkpointer(data_dir=config.data_dir, db_url=config.checkpoint_db_url)
    )
    logger.info(
        "agent stack ready in %.2f s (sandbox isolation: %s)",
        time.monotonic() - started,
        "bubblewrap" if sandboxes.isolated else "none",
    )
    return TurnDependencies(
        sandboxes=sandboxes,
        models=DefaultModelFactory(config.providers),
        checkpointer=checkpointer,
        settings=TurnSettings(
            default_model=config.default_model,
            flush=config.flush,
        ),
    )
