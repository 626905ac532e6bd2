"""From an agent's `tool_approvals` to deepagents' `interrupt_on`.

deepagents gates tools by exact name and accepts unknown names silently, so the globs are
expanded here against the names the agent really has: deepagents' own tools and the MCP
tools of the turn. An MCP rule `mcp:<server>/<tool glob>` matches the agent-facing names
`mcp_<server>_<tool>` (mcp/_names.py). The first rule that matches a tool applies.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any, Final

from agent_runner.mcp._names import split_tool_name
from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType, ToolApprovalRule

# deepagents' built-in tools (filesystem, shell, todos, sub-agents); a test pins this list
# against a compiled graph so a deepagents upgrade that renames one cannot leave it ungated.
BUILTIN_TOOLS: Final = (
    "write_todos",
    "ls",
    "read_file",
    "write_file",
    "edit_file",
    "delete",
    "glob",
    "grep",
    "execute",
    "task",
)
DECISION_NAMES: Final = {
    ApprovalDecisionType.APPROVAL_DECISION_APPROVE: "approve",
    ApprovalDecisionType.APPROVAL_DECISION_EDIT: "edit",
    ApprovalDecisionType.APPROVAL_DECISION_REJECT: "reject",
}
ALL_DECISIONS: Final = tuple(DECISION_NAMES)


def matches(rule: ToolApprovalRule, tool_name: str) -> bool:
    if rule.tool.startswith("mcp:"):
        server_glob, _, tool_glob = rule.tool[len("mcp:") :].partition("/")
        split = split_tool_name(tool_name)
        if split is None:
            return False
        server, tool = split
        return fnmatch.fnmatchcase(server, server_glob) and fnmatch.fnmatchcase(tool, tool_glob)
    # A bare glob matches agent-facing names, MCP tools' included: `*` gates everything.
    return fnmatch.fnmatchcase(tool_name, rule.tool)


def matching_rule(rules: Sequence[ToolApprovalRule], tool_name: str) -> ToolApprovalRule | None:
    return next((rule for rule in rules if matches(rule, tool_name)), None)


def allowed_decisions(rule: ToolApprovalRule) -> tuple[ApprovalDecisionType.ValueType, ...]:
    return tuple(rule.allowed_decisions) or ALL_DECISIONS


def interrupt_config(
    rules: Sequence[ToolApprovalRule], tool_names: Iterable[str]
) -> dict[str, Any]:
    """deepagents' `interrupt_on` for these rules over these tools ({} when none matches)."""
    config: dict[str, Any] = {}
    for name in tool_names:
        rule = matching_rule(rules, name)
        if rule is not None:
            config[name] = {
                "allowed_decisions": [DECISION_NAMES[d] for d in allowed_decisions(rule)]
            }
    return config
