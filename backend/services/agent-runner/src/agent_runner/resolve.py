"""Step 2 of a turn: session -> agent instance -> agent -> skills, environments, MCP servers,
read in one call (the server resolves them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent_runner.clients import StigmerClients
from agent_runner.environment import MergedEnvironment, merge_environment
from agent_runner.errors import InvalidInputError
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference


@dataclass(frozen=True)
class Resolved:
    session: Session
    instance: AgentInstance
    agent: Agent
    skills: Mapping[str, Skill]  # by slug: the agent's and every sub-agent's
    environments: list[Environment]
    mcp_servers: Mapping[str, McpServer]  # by slug: the agent's and every sub-agent's
    # As the turn-context read returns it: its runtime_env's secrets in clear.
    execution: AgentExecution


def _by_slug(servers: list[McpServer]) -> dict[str, McpServer]:
    # Tools are named by the server's slug: two servers of one slug (in two scopes) would
    # give the agent two tools of one name.
    found: dict[str, McpServer] = {}
    for server in servers:
        other = found.setdefault(server.metadata.slug, server)
        if other.metadata.id != server.metadata.id:
            raise InvalidInputError(
                f"agent mcp_server_refs: two McpServers share the slug {server.metadata.slug!r} "
                f"({other.metadata.id}, {server.metadata.id}); reference only one of them"
            )
    return found


async def resolve(clients: StigmerClients, execution: AgentExecution) -> Resolved:
    """The turn's context, resolved by the server in one runner-only read (the only read
    whose secret values are in clear: every other one masks them)."""
    context = await clients.get_turn_context(execution.metadata.id)
    return Resolved(
        session=context.session,
        instance=context.agent_instance,
        agent=context.agent,
        skills={skill.metadata.slug: skill for skill in context.skills},
        environments=list(context.environments),
        mcp_servers=_by_slug(list(context.mcp_servers)),
        execution=context.execution,
    )


def turn_environment(resolved: Resolved) -> MergedEnvironment:
    layers: list[tuple[str, Mapping[str, EnvironmentValue]]] = [
        (f"agent {resolved.agent.metadata.slug!r} env_spec", resolved.agent.spec.env_spec.data)
    ]
    layers += [
        (f"environment {env.metadata.slug!r}", env.spec.data) for env in resolved.environments
    ]
    layers.append(("execution runtime_env", resolved.execution.spec.runtime_env))
    return merge_environment(layers)


def skills_for(resolved: Resolved, refs: list[ApiResourceReference]) -> list[Skill]:
    return [resolved.skills[ref.slug] for ref in refs if ref.slug in resolved.skills]
