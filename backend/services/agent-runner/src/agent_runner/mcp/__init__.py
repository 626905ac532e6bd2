"""MCP servers as agent tools (ARCHITECTURE section 11).

At a turn's start every McpServer the agent or a sub-agent references is opened once
(`turn_tools.open_turn_tools`): a stdio server inside the session's sandbox, a streamable
HTTP server with its headers resolved from the turn's environment. Its tools are named
`mcp_<server>_<tool>` (`_names.py`); the sessions live until the turn ends or is cancelled.

This package's top level stays light (the status code reads tool names through it); the
MCP SDK is imported with `agent_runner.mcp.turn_tools`, which only a turn loads.
"""

from agent_runner.mcp._names import split_tool_name, tool_name
from agent_runner.mcp._values import resolve_value, resolve_values

__all__ = ["resolve_value", "resolve_values", "split_tool_name", "tool_name"]
