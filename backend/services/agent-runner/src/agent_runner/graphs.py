"""Compiled deep-agent graphs, built once per agent shape and reused by its turns.

Compiling a deep agent (the main graph, every sub-agent's graph, their tool nodes) costs a
few hundred milliseconds of CPU, more than the rest of a turn's own work. Nothing in it
belongs to one turn except the session's sandbox: the model objects depend on the model
strings and the environment's keys, the prompts on the agent's spec and skills, and the
checkpointer is the runner's. So a graph is cached under a digest of everything it was
built from, and the sandbox reaches it through `TurnBackend`: a deepagents
`CompositeBackend` with no routes whose default backend is the running turn's sandbox,
bound per asyncio task with a context variable. deepagents looks through a composite to
its default for every decision it makes by backend type (execution support, offloading
large results), so the turn's real backend class still decides; the backend class is part
of the digest because some of those decisions are made while the graph is compiled.

An agent that uses MCP servers is the exception: its MCP tools are bound to sessions the
turn opened (a stdio server lives in the session's sandbox and ends with the turn), so a
graph holding them cannot serve another turn. `graph(..., tools=...)` with turn-scoped tools
builds an uncached graph for that turn alone.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from deepagents.backends import CompositeBackend
from deepagents.backends.protocol import BackendProtocol, SandboxBackendProtocol
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agent_runner.agent import AgentPlan, TurnTools, build_agent
from agent_runner.models import ModelFactory
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent

# Turns of the same agent share one entry; 32 distinct agents (or environments) in use at
# once on one runner is far beyond what its concurrency serves.
DEFAULT_CACHE_SIZE = 32

_turn_backend: ContextVar[SandboxBackendProtocol] = ContextVar("stigmer_turn_backend")


class TurnBackend(CompositeBackend):
    """A composite with no routes whose default is the sandbox bound to the running turn."""

    def __init__(self) -> None:
        # CompositeBackend's own __init__ would assign `default`, which is read-only here.
        self.routes: dict[str, BackendProtocol] = {}
        self.sorted_routes: list[tuple[str, BackendProtocol]] = []
        self.artifacts_root = "/"

    @property
    def default(self) -> SandboxBackendProtocol:
        try:
            return _turn_backend.get()
        except LookupError:
            raise RuntimeError(
                "no sandbox is bound to this task: a cached agent graph ran outside "
                "graphs.bound_backend()"
            ) from None

    @default.setter
    def default(self, value: BackendProtocol) -> None:
        raise AttributeError("a TurnBackend's default is the bound sandbox: use bound_backend()")


@contextlib.contextmanager
def bound_backend(backend: SandboxBackendProtocol) -> Iterator[None]:
    """Within the block, the current task's (and its child tasks') sandbox is `backend`."""
    token = _turn_backend.set(backend)
    try:
        yield
    finally:
        _turn_backend.reset(token)


class AgentGraphs:
    """The compiled graphs of one runner, least recently used dropped first."""

    def __init__(
        self, *, models: ModelFactory, checkpointer: Checkpointer, size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self._models = models
        self._checkpointer = checkpointer
        self._size = size
        self._backend = TurnBackend()
        self._graphs: OrderedDict[str, CompiledStateGraph[Any, Any, Any, Any]] = OrderedDict()
        self.builds = 0
        self.uncached_builds = 0

    def graph(
        self,
        *,
        agent: Agent,
        plan: AgentPlan,
        env: Mapping[str, str],
        backend: SandboxBackendProtocol,
        tools: TurnTools | None = None,
    ) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The graph for this agent shape; call it, and run the graph, under bound_backend.

        With turn-scoped `tools` the graph is built for this turn only and not cached."""
        if tools is not None:
            self.uncached_builds += 1
            return build_agent(
                agent=agent,
                plan=plan,
                models=self._models,
                env=env,
                backend=self._backend,
                checkpointer=self._checkpointer,
                tools=tools,
            )
        key = _digest(agent, plan, env, type(backend))
        graph = self._graphs.get(key)
        if graph is not None:
            self._graphs.move_to_end(key)
            return graph
        graph = build_agent(
            agent=agent,
            plan=plan,
            models=self._models,
            env=env,
            backend=self._backend,
            checkpointer=self._checkpointer,
        )
        self.builds += 1
        self._graphs[key] = graph
        if len(self._graphs) > self._size:
            self._graphs.popitem(last=False)
        return graph


def _digest(agent: Agent, plan: AgentPlan, env: Mapping[str, str], backend_type: type[Any]) -> str:
    # Hashed, not kept: the environment holds secrets, and the key only has to tell apart.
    digest = hashlib.sha256()
    for part in (
        agent.metadata.slug,
        agent.spec.SerializeToString(deterministic=True),
        repr(plan),
        repr(sorted(env.items())),
        f"{backend_type.__module__}.{backend_type.__qualname__}",
    ):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
