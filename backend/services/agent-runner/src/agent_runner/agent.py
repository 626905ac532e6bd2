"""The deep agent for one turn: model, sub-agents, todos, the sandbox backend, the checkpointer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deepagents import create_deep_agent
from deepagents.backends.protocol import BackendProtocol
from deepagents.middleware.subagents import GENERAL_PURPOSE_SUBAGENT, SubAgent
from langchain.agents.middleware import TodoListMiddleware
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agent_runner.approvals import BUILTIN_TOOLS, interrupt_config
from agent_runner.models import ModelFactory
from agent_runner.skills import SkillEntry, skills_prompt
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.spec_pb2 import ToolApprovalRule

RECURSION_LIMIT = 1000
GENERAL_PURPOSE = str(GENERAL_PURPOSE_SUBAGENT["name"])


@dataclass(frozen=True)
class AgentPlan:
    """What the turn resolved: the model string and the skills of the agent and each sub-agent."""

    model: str
    skills: Sequence[SkillEntry]
    subagent_skills: Mapping[str, Sequence[SkillEntry]]


@dataclass(frozen=True)
class TurnTools:
    """Tools that belong to one turn (MCP servers' tools, whose sessions the turn holds):
    the main agent's, and each sub-agent's own by name (a sub-agent gets only its own)."""

    main: Sequence[BaseTool] = ()
    subagents: Mapping[str, Sequence[BaseTool]] = field(default_factory=dict)


def _prompt(instructions: str, skills: Sequence[SkillEntry]) -> str:
    return "\n\n".join(part for part in (instructions.strip(), skills_prompt(skills)) if part)


def build_agent(
    *,
    agent: Agent,
    plan: AgentPlan,
    models: ModelFactory,
    env: Mapping[str, str],
    backend: BackendProtocol,
    checkpointer: Checkpointer,
    tools: TurnTools | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    tools = tools or TurnTools()
    subagents: list[SubAgent] = []
    for sub in agent.spec.sub_agents:
        subagents.append(
            {
                "name": sub.name,
                "description": sub.description,
                "system_prompt": _prompt(sub.instructions, plan.subagent_skills.get(sub.name, ())),
                "model": models.chat_model(sub.model or plan.model, env=env, subagent=sub.name),
                # Always set: without it deepagents hands a sub-agent the main agent's tools.
                "tools": list(tools.subagents.get(sub.name, ())),
                # Always set: without it a sub-agent inherits the main agent's rules.
                "interrupt_on": _gates(sub.tool_approvals, tools.subagents.get(sub.name, ())),
            }
        )
    main_gates = _gates(agent.spec.tool_approvals, tools.main)
    if all(sub["name"] != GENERAL_PURPOSE for sub in subagents):
        # deepagents' default general-purpose sub-agent would reuse the main model object;
        # giving it its own keeps a scripted main model from replaying its script in there.
        # It stands in for the main agent, so it has the main agent's tools.
        subagents.append(
            {
                **GENERAL_PURPOSE_SUBAGENT,
                "model": models.chat_model(plan.model, env=env, subagent=GENERAL_PURPOSE),
                "tools": list(tools.main),
                "interrupt_on": main_gates,
            }
        )
    graph: CompiledStateGraph[Any, Any, Any, Any] = create_deep_agent(
        model=models.chat_model(plan.model, env=env),
        tools=list(tools.main),
        system_prompt=_prompt(agent.spec.instructions, plan.skills),
        middleware=[TodoListMiddleware()],
        subagents=subagents,
        backend=backend,
        checkpointer=checkpointer,
        name=agent.metadata.slug or None,
        # None, not {}: an agent without rules keeps the graph it always had.
        interrupt_on=main_gates or None,
    )
    return graph


def gated_tools(agent: Agent, tools: TurnTools | None = None) -> frozenset[str]:
    """Every tool name that needs approval in the main agent or any of its sub-agents."""
    tools = tools or TurnTools()
    names = set(_gates(agent.spec.tool_approvals, tools.main))
    for sub in agent.spec.sub_agents:
        names |= set(_gates(sub.tool_approvals, tools.subagents.get(sub.name, ())))
    return frozenset(names)


def _gates(rules: Sequence[ToolApprovalRule], tools: Sequence[BaseTool]) -> dict[str, Any]:
    """deepagents' `interrupt_on` for an agent with these rules and these turn tools."""
    return interrupt_config(rules, [*BUILTIN_TOOLS, *(tool.name for tool in tools)])
