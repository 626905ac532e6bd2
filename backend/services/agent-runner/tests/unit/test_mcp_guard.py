"""The MCP call guard and the stdio refusal, without any server: failures become tool
results, a call outliving its session is released, a sandbox that cannot host a process
refuses a stdio server by name."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest
from langchain_mcp_adapters.interceptors import MCPToolCallRequest
from mcp.types import CallToolResult, TextContent

from agent_runner.errors import InvalidInputError
from agent_runner.mcp._connect import DEFAULT_TOOL_TIMEOUT, tool_timeout
from agent_runner.mcp._guard import ToolCallGuard
from agent_runner.mcp.turn_tools import open_turn_tools
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer


def _request() -> MCPToolCallRequest:
    return MCPToolCallRequest(name="echo", args={}, server_name="alpha")


async def test_an_error_on_the_way_is_a_tool_error() -> None:
    async def broken(request: MCPToolCallRequest) -> Any:
        raise ExceptionGroup("transport", [ConnectionError("refused")])

    result = await ToolCallGuard()(_request(), broken)
    assert isinstance(result, CallToolResult)
    assert result.isError
    assert result.content == [
        TextContent(type="text", text="MCP server 'alpha', tool 'echo' failed: refused")
    ]


async def test_a_call_waiting_when_the_session_ends_is_released() -> None:
    guard = ToolCallGuard()
    started, never = asyncio.Event(), asyncio.Event()

    async def hangs(request: MCPToolCallRequest) -> Any:
        started.set()
        await never.wait()

    call = asyncio.ensure_future(guard(_request(), hangs))
    async with asyncio.timeout(5):
        await started.wait()
        guard.session_ended.set()
        result = await call
    assert result.isError
    assert "session ended during the call" in result.content[0].text
    later = await guard(_request(), hangs)
    assert "session has ended" in later.content[0].text


async def test_a_call_without_an_answer_in_time_is_a_tool_error_naming_the_timeout() -> None:
    never = asyncio.Event()

    async def hangs(request: MCPToolCallRequest) -> Any:
        await never.wait()

    guard = ToolCallGuard(timeout=0.2)
    async with asyncio.timeout(5):
        result = await guard(_request(), hangs)
    assert result.isError
    assert "no answer within 0.2 s (its tool_timeout)" in result.content[0].text
    assert guard.pending == 0
    assert not guard.session_ended.is_set()


def test_the_tool_timeout_is_the_servers_or_ten_minutes() -> None:
    server = McpServer()
    assert tool_timeout(server) == DEFAULT_TOOL_TIMEOUT == 600.0
    server.spec.tool_timeout.seconds, server.spec.tool_timeout.nanos = 2, 500_000_000
    assert tool_timeout(server) == 2.5


async def test_a_good_answer_passes_through() -> None:
    answer = CallToolResult(content=[TextContent(type="text", text="hi")])

    async def fine(request: MCPToolCallRequest) -> Any:
        return answer

    assert await ToolCallGuard()(_request(), fine) is answer


async def test_a_sandbox_without_processes_refuses_a_stdio_server_by_name() -> None:
    server = McpServer()
    server.metadata.slug = "notes"
    server.spec.stdio.command = "python3"
    agent = Agent()
    agent.spec.mcp_server_refs.add(slug="notes")
    async with AsyncExitStack() as stack:
        with pytest.raises(InvalidInputError, match="McpServer 'notes': a stdio server runs"):
            await open_turn_tools(
                stack, agent=agent, servers={"notes": server}, variables={}, sandbox=object()
            )
