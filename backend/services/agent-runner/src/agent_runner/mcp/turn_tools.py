"""The turn's MCP tools: each referenced server opened once, its tools named per server and
handed to the main agent and to each sub-agent that references it."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Any

from langchain_core.tools import BaseTool

from agent_runner.agent import TurnTools
from agent_runner.mcp._held import open_server
from agent_runner.mcp._names import tool_name
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference

logger = logging.getLogger(__name__)


async def open_turn_tools(
    stack: AsyncExitStack,
    *,
    agent: Agent,
    servers: Mapping[str, McpServer],
    variables: Mapping[str, str],
    sandbox: Any,
) -> TurnTools:
    """Open every server the agent or a sub-agent references; sessions close with `stack`."""
    loaded: dict[str, list[BaseTool]] = {}
    for slug in _referenced(agent):
        tools = await open_server(stack, servers[slug], variables=variables, sandbox=sandbox)
        loaded[slug] = _renamed(slug, tools)
        logger.info("McpServer %s: %d tool(s) for this turn", slug, len(tools))
    return TurnTools(
        main=_for(agent.spec.mcp_server_refs, loaded),
        subagents={sub.name: _for(sub.mcp_server_refs, loaded) for sub in agent.spec.sub_agents},
    )


def _referenced(agent: Agent) -> list[str]:
    refs = [*agent.spec.mcp_server_refs]
    refs += [ref for sub in agent.spec.sub_agents for ref in sub.mcp_server_refs]
    return list(dict.fromkeys(ref.slug for ref in refs))


def _renamed(slug: str, tools: list[BaseTool]) -> list[BaseTool]:
    taken: set[str] = set()
    renamed = []
    for tool in tools:
        name = tool_name(slug, tool.name, taken)
        taken.add(name)
        # The call still goes out under the MCP name: the adapter's tool keeps it.
        renamed.append(tool.model_copy(update={"name": name}))
    return renamed


def _for(
    refs: Iterable[ApiResourceReference], loaded: Mapping[str, list[BaseTool]]
) -> tuple[BaseTool, ...]:
    return tuple(tool for slug in dict.fromkeys(ref.slug for ref in refs) for tool in loaded[slug])
