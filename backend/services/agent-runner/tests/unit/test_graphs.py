"""The graph cache: one compiled graph per agent shape, the sandbox bound per task."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent_runner.agent import AgentPlan
from agent_runner.config import ProviderDefaults
from agent_runner.environment import Redactor
from agent_runner.graphs import AgentGraphs, TurnBackend, bound_backend
from agent_runner.models import DefaultModelFactory
from agent_runner.sandbox import SandboxShellBackend
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent

PLAN = AgentPlan(model="scripted:demo", skills=(), subagent_skills={})


def agent(instructions: str = "You help.") -> Agent:
    result = Agent()
    result.metadata.slug = "helper"
    result.spec.instructions = instructions
    result.spec.sub_agents.add(name="researcher", description="Researches.")
    return result


def backend(root: Path) -> SandboxShellBackend:
    root.mkdir(parents=True, exist_ok=True)
    return SandboxShellBackend(
        root,
        env={},
        timeout=30,
        max_output_bytes=10_000,
        sandbox_id=f"local-{root.name}",
        prefix=(),
        redact=Redactor(()),
    )


@pytest.fixture
def graphs() -> AgentGraphs:
    return AgentGraphs(models=DefaultModelFactory(ProviderDefaults()), checkpointer=InMemorySaver())


def test_turns_of_the_same_agent_reuse_one_graph(graphs: AgentGraphs, tmp_path: Path) -> None:
    one, two = backend(tmp_path / "one"), backend(tmp_path / "two")
    with bound_backend(one):
        first = graphs.graph(agent=agent(), plan=PLAN, env={"A": "1"}, backend=one)
    with bound_backend(two):
        second = graphs.graph(agent=agent(), plan=PLAN, env={"A": "1"}, backend=two)
    assert second is first
    assert graphs.builds == 1


def test_a_changed_spec_or_environment_builds_a_new_graph(
    graphs: AgentGraphs, tmp_path: Path
) -> None:
    sandbox = backend(tmp_path)
    with bound_backend(sandbox):
        base = graphs.graph(agent=agent(), plan=PLAN, env={"A": "1"}, backend=sandbox)
        other_spec = graphs.graph(
            agent=agent("Be brief."), plan=PLAN, env={"A": "1"}, backend=sandbox
        )
        other_env = graphs.graph(agent=agent(), plan=PLAN, env={"A": "2"}, backend=sandbox)
    assert len({id(base), id(other_spec), id(other_env)}) == 3
    assert graphs.builds == 3


def test_the_least_recently_used_graph_is_dropped_beyond_the_size(tmp_path: Path) -> None:
    graphs = AgentGraphs(
        models=DefaultModelFactory(ProviderDefaults()), checkpointer=InMemorySaver(), size=1
    )
    sandbox = backend(tmp_path)
    with bound_backend(sandbox):
        graphs.graph(agent=agent("a"), plan=PLAN, env={}, backend=sandbox)
        graphs.graph(agent=agent("b"), plan=PLAN, env={}, backend=sandbox)
        graphs.graph(agent=agent("a"), plan=PLAN, env={}, backend=sandbox)
    assert graphs.builds == 3


async def test_each_task_sees_the_sandbox_it_bound(tmp_path: Path) -> None:
    shared = TurnBackend()
    seen: dict[str, object] = {}

    async def turn(name: str) -> None:
        sandbox = backend(tmp_path / name)
        with bound_backend(sandbox):
            await asyncio.sleep(0.01)
            # A task the turn starts (as LangGraph does for tool calls) inherits the binding.
            seen[name] = await asyncio.create_task(_default_of(shared))
            assert seen[name] is sandbox

    await asyncio.gather(turn("one"), turn("two"))
    assert seen["one"] is not seen["two"]


async def _default_of(shared: TurnBackend) -> object:
    return shared.default


def test_a_cached_graph_used_outside_a_binding_says_so() -> None:
    with pytest.raises(RuntimeError, match="bound_backend"):
        _ = TurnBackend().default


def test_approval_rules_are_part_of_the_shape(graphs: AgentGraphs, tmp_path: Path) -> None:
    sandbox = backend(tmp_path)
    gated = agent()
    gated.spec.tool_approvals.add(tool="execute")
    sub_gated = agent()
    sub_gated.spec.sub_agents[0].tool_approvals.add(tool="execute")
    with bound_backend(sandbox):
        plain = graphs.graph(agent=agent(), plan=PLAN, env={}, backend=sandbox)
        main = graphs.graph(agent=gated, plan=PLAN, env={}, backend=sandbox)
        sub = graphs.graph(agent=sub_gated, plan=PLAN, env={}, backend=sandbox)
    assert len({id(plain), id(main), id(sub)}) == 3
    # Only the agent whose own rules gate a tool stops after the model in the main graph.
    assert "HumanInTheLoopMiddleware.after_model" in main.nodes
    assert "HumanInTheLoopMiddleware.after_model" not in plain.nodes
    assert "HumanInTheLoopMiddleware.after_model" not in sub.nodes
