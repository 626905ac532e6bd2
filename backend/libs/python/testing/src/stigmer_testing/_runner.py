"""The real agent-runner worker, started as a subprocess against a server and Temporal.

It is ready once Temporal reports the process (by its pid in the worker identity) as a
poller of the server's execution task queue: from then on turns are picked up. Teardown
sends SIGTERM (the runner drains) and waits; `kill()` is there for crash tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from stigmer_testing._server import StigmerServer

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0


@dataclass
class AgentRunnerProcess:
    """A running runner: its process, data directory (sandboxes, checkpoints) and log."""

    process: asyncio.subprocess.Process
    data_dir: Path
    log_file: Path
    task_queue: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    async def kill(self) -> None:
        """SIGKILL, as a crash would: no drain, no final status update."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM and wait: the runner stops polling and drains its turns."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=_STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


AgentRunnerFactory = Callable[..., AbstractAsyncContextManager[AgentRunnerProcess]]


def runner_env(
    server: StigmerServer, temporal_address: str, data_dir: Path, env: Mapping[str, str] | None
) -> dict[str, str]:
    child = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("STIGMER_", "TEMPORAL_", "SANDBOX_", "ANTHROPIC_", "OPENAI_", "OLLAMA_", "DAYTONA_")
        )
    }
    child.update(
        {
            "STIGMER_BACKEND_ENDPOINT": server.address,
            "STIGMER_API_KEY": server.api_key,
            "TEMPORAL_HOST_PORT": temporal_address,
            "TEMPORAL_NAMESPACE": "default",
            "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE": server.execution_task_queue,
            "STIGMER_DATA_DIR": str(data_dir),
            "STIGMER_DEFAULT_MODEL": "scripted:demo",
            # Tests write their scripts below their tmp_path.
            "STIGMER_SCRIPTS_DIR": tempfile.gettempdir(),
            "LOG_LEVEL": "DEBUG",
            "HEARTBEAT_INTERVAL_SECONDS": "1",
            "SHUTDOWN_GRACE_SECONDS": "5",
        }
    )
    child.update(env or {})
    return child


@contextlib.asynccontextmanager
async def start_agent_runner(
    server: StigmerServer,
    temporal_address: str,
    *,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> AsyncIterator[AgentRunnerProcess]:
    """Start `python -m agent_runner` for `server` and yield once it polls the task queue.

    Pass the same `data_dir` to a second runner to give it the first one's sandboxes and
    checkpoints (a restarted runner on the same host).
    """
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stigmer-run-")))
        data_dir.mkdir(parents=True, exist_ok=True)
        child_env = runner_env(server, temporal_address, data_dir, env)
        log_file = data_dir / f"runner-{time.monotonic_ns()}.log"
        log = stack.enter_context(log_file.open("wb"))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_runner",
            cwd=data_dir,
            env=child_env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        runner = AgentRunnerProcess(
            process=process,
            data_dir=data_dir,
            log_file=log_file,
            task_queue=child_env["TEMPORAL_AGENT_EXECUTION_TASK_QUEUE"],
        )
        try:
            client = await Client.connect(temporal_address)
            await wait_polling(client, runner)
            yield runner
        finally:
            await runner.stop()


async def wait_polling(client: Client, runner: AgentRunnerProcess) -> float:
    """Seconds until Temporal lists the process as a poller of its activity task queue."""
    started = time.monotonic()
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=runner.task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    )
    identity = f"{runner.pid}@"
    while time.monotonic() - started < _START_TIMEOUT:
        if runner.process.returncode is not None:
            pytest.fail(
                f"agent-runner exited with {runner.process.returncode} before polling:\n"
                + runner.log()[-4000:]
            )
        reply = await client.workflow_service.describe_task_queue(request)
        if any(p.identity.startswith(identity) for p in reply.pollers):
            return time.monotonic() - started
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.process.wait(), timeout=0.05)
    pytest.fail(
        f"agent-runner did not poll within {_START_TIMEOUT:.0f} s:\n" + runner.log()[-4000:]
    )


@pytest.fixture
def agent_runner_factory(temporal_address: str) -> AgentRunnerFactory:
    """`async with agent_runner_factory(server, env={...}) as runner:` for a runner process."""

    def factory(
        server: StigmerServer,
        *,
        env: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
    ) -> AbstractAsyncContextManager[AgentRunnerProcess]:
        return start_agent_runner(server, temporal_address, env=env, data_dir=data_dir)

    return factory
