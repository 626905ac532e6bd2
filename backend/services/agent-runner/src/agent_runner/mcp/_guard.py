"""Every MCP tool call's failure as a tool result the model reads, never a failed turn."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from langchain_mcp_adapters.interceptors import MCPToolCallRequest
from mcp.types import CallToolResult, TextContent

from agent_runner.mcp._connect import DEFAULT_TOOL_TIMEOUT, leaf_error


class ToolCallGuard:
    """An interceptor for one server's calls: an error on the way (the server gone, a broken
    stream) becomes an error result like one the tool reports itself; a call still waiting
    when the server's session ends (its transport lost) fails at once, since no answer can
    come any more; and a call with no answer within `timeout` seconds fails, so one hung
    tool cannot hold the turn."""

    def __init__(self, timeout: float = DEFAULT_TOOL_TIMEOUT) -> None:
        self.timeout = timeout
        self.session_ended = asyncio.Event()
        # Calls waiting for an answer: while there are any, the session's owner pings the
        # server, since a streamable HTTP server that went away can leave a call waiting
        # with no error at all.
        self.pending = 0

    async def __call__(self, request: MCPToolCallRequest, handler: Any) -> Any:
        if self.session_ended.is_set():
            return _error(request, "the server's session has ended")
        call = asyncio.ensure_future(handler(request))
        ended = asyncio.ensure_future(self.session_ended.wait())
        self.pending += 1
        try:
            done, _ = await asyncio.wait(
                {call, ended}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self.pending -= 1
            ended.cancel()
            if not call.done():
                call.cancel()
                with contextlib.suppress(BaseException):
                    await call
        if call.cancelled():
            if ended in done:
                return _error(request, "the server's session ended during the call")
            # MCP's client sends the server no cancellation: it may still be working on it.
            return _error(request, f"no answer within {self.timeout:g} s (its tool_timeout)")
        error = call.exception()
        if error is not None:
            return _error(request, str(leaf_error(error)))
        return call.result()


def _error(request: MCPToolCallRequest, reason: str) -> CallToolResult:
    text = f"MCP server {request.server_name!r}, tool {request.name!r} failed: {reason}"
    return CallToolResult(content=[TextContent(type="text", text=text)], isError=True)
