"""The processes the scenarios break: a stigmer-server that can be killed and brought back on
the same address and database, and a pool of agent-runners sharing one data directory.

Runners share the data directory the way replicas on one host do: a runner that picks up a
killed runner's turn finds its sandbox and checkpoints there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stigmer_testing._runner import AgentRunnerProcess, start_agent_runner
from stigmer_testing._server import StigmerServer, start_stigmer_server


@dataclass
class ChaosServer:
    """One logical server: each start is a new process on the same address, keys and SQLite
    file, so clients and runners reconnect to it without being told."""

    temporal_address: str
    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    suffix: str = field(default_factory=lambda: secrets.token_hex(4))
    _address: str = "127.0.0.1:0"
    _current: StigmerServer | None = None
    _stack: contextlib.AsyncExitStack | None = None

    @property
    def current(self) -> StigmerServer:
        if self._current is None:
            raise RuntimeError("the chaos server is not running")
        return self._current

    async def start(self) -> StigmerServer:
        stack = contextlib.AsyncExitStack()
        env = {
            "STIGMER_API_KEYS": self.api_key,
            "STIGMER_SERVER_ADDRESS": self._address,
            "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE": f"execution-{self.suffix}",
            "EXECUTION_PERSISTENCE_TASK_QUEUE": f"execution-persistence-{self.suffix}",
            **self.env,
        }
        server = await stack.enter_async_context(
            start_stigmer_server(self.temporal_address, env=env, data_dir=self.data_dir)
        )
        self._stack, self._current, self._address = stack, server, server.address
        return server

    async def kill(self) -> None:
        """SIGKILL, as a crash would: nothing flushed, no goodbye to watchers."""
        if self._current is None or self._stack is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._current.pid, signal.SIGKILL)
        await self._stack.aclose()
        self._current, self._stack = None, None

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._current, self._stack = None, None


@dataclass
class RunnerPool:
    """Runners of one server on one data directory; started and killed one by one."""

    server: ChaosServer
    temporal_address: str
    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    _stacks: dict[int, contextlib.AsyncExitStack] = field(default_factory=dict)
    _runners: dict[int, AgentRunnerProcess] = field(default_factory=dict)

    @property
    def alive(self) -> list[AgentRunnerProcess]:
        return [r for r in self._runners.values() if r.process.returncode is None]

    async def start(self) -> AgentRunnerProcess:
        stack = contextlib.AsyncExitStack()
        runner = await stack.enter_async_context(
            start_agent_runner(
                self.server.current,
                self.temporal_address,
                env=self.env,
                data_dir=self.data_dir,
            )
        )
        self._stacks[runner.pid], self._runners[runner.pid] = stack, runner
        return runner

    async def ensure(self, count: int) -> list[AgentRunnerProcess]:
        while len(self.alive) < count:
            await self.start()
        return self.alive

    async def kill(self, runner: AgentRunnerProcess) -> None:
        await runner.kill()
        await self._close(runner.pid)

    async def _close(self, pid: int) -> None:
        stack = self._stacks.pop(pid, None)
        self._runners.pop(pid, None)
        if stack is not None:
            await stack.aclose()

    async def stop_all(self) -> None:
        for pid in list(self._stacks):
            await self._close(pid)

    def owner_of(self, pid: int) -> AgentRunnerProcess | None:
        """The runner whose process tree holds `pid` (a sandbox command it started)."""
        for ancestor in ancestors(pid):
            runner = self._runners.get(ancestor)
            if runner is not None:
                return runner
        return None

    def all_logs(self) -> str:
        """Every runner's whole log, killed ones included."""
        return "\n".join(p.read_text(errors="replace") for p in self.data_dir.glob("runner-*.log"))

    def logs(self) -> str:
        return "\n".join(f"--- runner {r.pid}\n{r.log()[-3000:]}" for r in self._runners.values())


def ancestors(pid: int) -> list[int]:
    """`pid` and its parents up to init (the ones still alive)."""
    chain = []
    while pid > 1:
        chain.append(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            break
        pid = int(stat.rpartition(")")[2].split()[1])
    return chain
