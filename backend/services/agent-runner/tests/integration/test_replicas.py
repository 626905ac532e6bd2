"""Two server replicas on one PostgreSQL and two runners on one Temporal (ARCHITECTURE 14).

Real processes throughout. Any replica serves any RPC and any watcher; killing a server
replica or a runner mid-turn loses no turn, and a watcher that reconnects to the surviving
replica with its last sequence misses nothing and sees nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import grpc
import pytest
from runner_world import running_commands, write_script

from agent_runner.config import postgres_url as libpq_url
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from stigmer_status import apply_event
from stigmer_testing._runner import AgentRunnerFactory, AgentRunnerProcess
from stigmer_testing._server import StigmerServer, StigmerServerFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# Two slow commands, so there is time to kill a server during the first and the runner
# that runs the turn during the second.
SLOW_TURN = """
replies:
  - tool_calls:
      - {name: execute, args: {command: "sleep 4; echo first >> steps.txt"}}
  - tool_calls:
      - name: execute
        args: {command: "while [ ! -e go ]; do sleep 0.1; done; echo second >> steps.txt"}
  - text: "Both steps are done."
"""


async def _until(condition: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.05)


class Watcher:
    """A `subscribe` client that reconnects to whichever replica answers, resuming after
    the last sequence it applied."""

    def __init__(self, addresses: list[str], metadata: Any, execution_id: str) -> None:
        self._addresses = addresses
        self._metadata = metadata
        self._execution_id = execution_id
        self.events: list[AgentExecutionEvent] = []
        self.copy: AgentExecution | None = None
        self.reconnects = 0

    async def run(self) -> None:
        while True:
            for address in self._addresses:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    if await self._follow(address):
                        return
                self.reconnects += 1
            await asyncio.sleep(0.2)

    async def _follow(self, address: str) -> bool:
        """True once the stream ended at a final phase."""
        after = self.copy.status.sequence if self.copy is not None else 0
        async with grpc.aio.insecure_channel(address) as channel:
            stub = AgentExecutionQueryControllerStub(channel)
            request = SubscribeAgentExecutionRequest(
                execution_id=self._execution_id, after_sequence=after
            )
            async for event in stub.subscribe(request, metadata=self._metadata, timeout=120):
                if event.WhichOneof("payload") == "preview":
                    continue
                self.events.append(event)
                self.copy = apply_event(self.copy, event)
        return self.copy is not None and self.copy.status.phase in (
            ExecutionPhase.EXECUTION_COMPLETED,
            ExecutionPhase.EXECUTION_FAILED,
            ExecutionPhase.EXECUTION_CANCELLED,
        )


@contextlib.asynccontextmanager
async def _replicas(
    factory: StigmerServerFactory, postgres_url: str
) -> AsyncIterator[tuple[StigmerServer, StigmerServer]]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(factory(env={"STIGMER_DB_URL": postgres_url}))
        shared = {
            "STIGMER_DB_URL": postgres_url,
            "STIGMER_API_KEYS": first.api_key,
            "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE": first.execution_task_queue,
            "EXECUTION_PERSISTENCE_TASK_QUEUE": first.persistence_task_queue,
        }
        second = await stack.enter_async_context(factory(env=shared))
        yield first, second


def _runs(runner: AgentRunnerProcess, execution_id: str) -> bool:
    return f"ExecuteGraphton execution_id={execution_id!r}" in runner.log()


async def test_a_turn_survives_a_server_replica_and_a_runner_killed_mid_turn(
    postgres_url: str,
    stigmer_server_factory: StigmerServerFactory,
    agent_runner_factory: AgentRunnerFactory,
    world_for: Any,
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack:
        first, second = await stack.enter_async_context(
            _replicas(stigmer_server_factory, postgres_url)
        )
        # Every runner knows both replicas; gRPC moves to the next when one is gone.
        runner_env = {
            "STIGMER_BACKEND_ENDPOINT": f"ipv4:{first.address},{second.address}",
            "STIGMER_CHECKPOINT_DB_URL": libpq_url(postgres_url),
            "HEARTBEAT_INTERVAL_SECONDS": "1",
        }
        shared_dir = tmp_path / "runners"  # one host: the runners share sandboxes
        runners = [
            await stack.enter_async_context(
                agent_runner_factory(first, env=runner_env, data_dir=shared_dir)
            )
            for _ in range(2)
        ]
        world_a, world_b = world_for(first), world_for(second)
        session = await world_b.session(write_script(tmp_path, "slow", SLOW_TURN))
        execution = await world_a.start(session, "Do both steps.")
        execution_id = execution.metadata.id
        watcher = Watcher([first.address, second.address], first.metadata, execution_id)
        watching = asyncio.create_task(watcher.run())

        # A server replica dies during the first command.
        await _until(lambda: any(_runs(r, execution_id) for r in runners), "a runner took it")
        os.kill(first.pid, signal.SIGKILL)
        # The runner running the turn dies during the second command (the first one's result
        # is in the checkpoint once the second command runs).
        steps = shared_dir / "sandboxes" / f"local-{session.metadata.id}" / "steps.txt"
        await _until(lambda: bool(running_commands("echo second")), "the second step runs")
        running = next(r for r in runners if _runs(r, execution_id))
        await running.kill()
        # Only now may the second step finish: the killed attempt never got to, so a second
        # "second" could only come from a command that outlived its runner or ran twice.
        (steps.parent / "go").touch()

        await asyncio.wait_for(watching, timeout=120)
        stored = await world_b.get(execution_id)

        assert stored.status.phase == ExecutionPhase.EXECUTION_COMPLETED, stored.status.error
        assert stored.status.messages[-1].content == "Both steps are done."
        assert steps.read_text() == "first\nsecond\n", "each step ran once"
        assert watcher.reconnects >= 1
        assert watcher.copy is not None
        assert watcher.copy.status == stored.status, "the watcher missed nothing"
        sequences = [e.sequence for e in watcher.events]
        assert sequences == sorted(set(sequences)), "the watcher saw nothing twice"
        survivor = next(r for r in runners if r is not running)
        assert _runs(survivor, execution_id), "the other runner resumed the turn"
