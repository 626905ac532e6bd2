"""Step 2 of a turn: session -> agent instance -> agent -> skills, environments, MCP servers."""

from __future__ import annotations

import asyncio
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


def _unique(refs: list[ApiResourceReference]) -> list[ApiResourceReference]:
    unique: dict[tuple[int, str, str], ApiResourceReference] = {}
    for ref in refs:
        unique.setdefault((ref.scope, ref.org, ref.slug), ref)
    return list(unique.values())


def _skill_refs(agent: Agent) -> list[ApiResourceReference]:
    return _unique(
        [*agent.spec.skill_refs, *(r for sub in agent.spec.sub_agents for r in sub.skill_refs)]
    )


def _mcp_server_refs(agent: Agent) -> list[ApiResourceReference]:
    return _unique(
        [
            *agent.spec.mcp_server_refs,
            *(r for sub in agent.spec.sub_agents for r in sub.mcp_server_refs),
        ]
    )


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
    session = await clients.get_session(execution.spec.session_id)
    instance = await clients.get_agent_instance(session.spec.agent_instance_id)
    agent = await clients.get_agent(instance.spec.agent_id)
    skills, environments, mcp_servers = await asyncio.gather(
        clients.get_skills(_skill_refs(agent)),
        clients.get_environments(list(instance.spec.environment_refs)),
        clients.get_mcp_servers(_mcp_server_refs(agent)),
    )
    return Resolved(
        session=session,
        instance=instance,
        agent=agent,
        skills={skill.metadata.slug: skill for skill in skills},
        environments=environments,
        mcp_servers=_by_slug(mcp_servers),
    )


def turn_environment(resolved: Resolved, execution: AgentExecution) -> MergedEnvironment:
    layers: list[tuple[str, Mapping[str, EnvironmentValue]]] = [
        (f"agent {resolved.agent.metadata.slug!r} env_spec", resolved.agent.spec.env_spec.data)
    ]
    layers += [
        (f"environment {env.metadata.slug!r}", env.spec.data) for env in resolved.environments
    ]
    layers.append(("execution runtime_env", execution.spec.runtime_env))
    return merge_environment(layers)


def skills_for(resolved: Resolved, refs: list[ApiResourceReference]) -> list[Skill]:
    return [resolved.skills[ref.slug] for ref in refs if ref.slug in resolved.skills]
