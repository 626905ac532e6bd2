"""How a tool call looks to a person: its display name, UI component and redacted args."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf.struct_pb2 import Struct

from agent_runner.mcp import split_tool_name
from agent_runner.status._bounds import bounded
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import ToolCallComponent

TODOS_TOOL = "write_todos"
TASK_TOOL = "task"
# deepagents' `task` answers a sub-agent name it does not know with this text (as a normal
# result, status "success"); the recorded parallel-subagents run pins it for the version used.
UNKNOWN_SUBAGENT_PREFIX = "We cannot invoke subagent "

_COMPONENTS = {
    "execute": "terminal",
    "read_file": "file_read",
    "ls": "file_read",
    "glob": "file_read",
    "grep": "file_read",
    "write_file": "file_write",
    "edit_file": "file_write",
    "delete": "file_write",
    TASK_TOOL: "sub_agent",
    TODOS_TOOL: "todo_list",
}
_PATH_ARGS = ("file_path", "path", "pattern")


def redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return bounded(redact(value))
    if isinstance(value, Mapping):
        return {str(k): redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, redact) for v in value]
    return value


def args_struct(args: Mapping[str, Any], redact: Callable[[str], str]) -> Struct:
    struct = Struct()
    # A JSON round trip turns values Struct cannot hold (tuples, objects) into ones it can.
    struct.update(json.loads(json.dumps(redact_value(args, redact), default=str)))
    return struct


def display_name(name: str, args: Mapping[str, Any], redact: Callable[[str], str]) -> str:
    if name == "execute":
        return redact(str(args.get("command", "")))
    if name == TASK_TOOL:
        description = " ".join(str(args.get("description", "")).split())
        return f"{args.get('subagent_type', '?')}: {description}"
    for key in _PATH_ARGS:
        if key in args:
            return f"{name} {redact(str(args[key]))}"
    return name


def component(
    name: str, args: Mapping[str, Any], redact: Callable[[str], str]
) -> ToolCallComponent:
    kind = _COMPONENTS.get(name, "generic")
    context = Struct()
    mcp = split_tool_name(name)
    if mcp is not None:
        # An MCP server's tool: the UI shows which server answers it.
        context.update({"server": mcp[0], "tool": mcp[1]})
        return ToolCallComponent(type="mcp", context=context)
    if kind == "terminal":
        context.update({"command": redact(str(args.get("command", "")))})
    elif kind == "sub_agent":
        context.update({"subagent": str(args.get("subagent_type", ""))})
    else:
        paths = {k: redact(str(args[k])) for k in _PATH_ARGS if k in args}
        if paths:
            context.update(paths)
    return ToolCallComponent(type=kind, context=context)
