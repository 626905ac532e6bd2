"""What an agent's `tool_approvals` must hold: tool patterns the runner can match, decisions
that exist, and a timeout that makes sense (docs/guides/approvals.md).

The runner matches `tool` with shell-style globs (`fnmatch`) against the agent's tool names,
and `mcp:<server>/<tool glob>` against the MCP tools of that server. A pattern with other
characters would silently match nothing, so it is refused here instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType, ApprovalTimeoutAction
from stigmer_server.errors import InvalidArgument

# Tool names are [A-Za-z0-9_-]; a glob adds `*` and `?`. MCP servers are slugs (or `*`).
_TOOL_GLOB: Final = re.compile(r"^[A-Za-z0-9_*?-]{1,128}$")
_SERVER_GLOB: Final = re.compile(r"^[a-z0-9*?-]{1,63}$")
_MCP_TOOL_GLOB: Final = re.compile(r"^[A-Za-z0-9_.*?/-]{1,128}$")
MAX_TIMEOUT: Final = timedelta(days=30)
MAX_RULES: Final = 64


def check_tool_approvals(rules: Sequence[Any], field: str) -> None:
    """Raise InvalidArgument naming `field[i].<part>` for the first bad rule."""
    if len(rules) > MAX_RULES:
        raise InvalidArgument(field, f"at most {MAX_RULES} rules, got {len(rules)}")
    for index, rule in enumerate(rules):
        _check_rule(rule, f"{field}[{index}]")


def _check_rule(rule: Any, field: str) -> None:
    _check_tool(rule.tool, f"{field}.tool")
    seen: set[int] = set()
    for index, decision in enumerate(rule.allowed_decisions):
        if decision not in _DECISIONS:
            raise InvalidArgument(
                f"{field}.allowed_decisions[{index}]",
                "expected APPROVAL_DECISION_APPROVE, APPROVAL_DECISION_EDIT or "
                f"APPROVAL_DECISION_REJECT, got {decision}",
            )
        if decision in seen:
            raise InvalidArgument(
                f"{field}.allowed_decisions[{index}]",
                f"duplicate {ApprovalDecisionType.Name(decision)}",
            )
        seen.add(decision)
    if rule.HasField("timeout"):
        timeout = rule.timeout.ToTimedelta()
        if timeout <= timedelta(0) or timeout > MAX_TIMEOUT:
            raise InvalidArgument(
                f"{field}.timeout", f"expected more than 0s and at most 30 days, got {timeout}"
            )
    if rule.on_timeout not in _TIMEOUT_ACTIONS:
        raise InvalidArgument(
            f"{field}.on_timeout",
            f"expected APPROVAL_TIMEOUT_REJECT or APPROVAL_TIMEOUT_FAIL, got {rule.on_timeout}",
        )
    if rule.on_timeout and not rule.HasField("timeout"):
        raise InvalidArgument(f"{field}.on_timeout", "set only together with timeout")


def _check_tool(tool: str, field: str) -> None:
    if not tool:
        raise InvalidArgument(field, "required: a tool name or glob, e.g. execute or mcp:github/*")
    if tool.startswith("mcp:"):
        server, slash, name = tool[len("mcp:") :].partition("/")
        if not slash or not _SERVER_GLOB.match(server) or not _MCP_TOOL_GLOB.match(name):
            raise InvalidArgument(
                field,
                "expected mcp:<server slug or glob>/<tool name or glob>, e.g. mcp:github/*, "
                f"got {tool[:80]!r}",
            )
        return
    if not _TOOL_GLOB.match(tool):
        raise InvalidArgument(
            field,
            "expected a tool name or a glob of letters, digits, _, -, * and ? "
            f"(e.g. execute, write_*, *), got {tool[:80]!r}",
        )


_DECISIONS: Final = frozenset(
    {
        ApprovalDecisionType.APPROVAL_DECISION_APPROVE,
        ApprovalDecisionType.APPROVAL_DECISION_EDIT,
        ApprovalDecisionType.APPROVAL_DECISION_REJECT,
    }
)
_TIMEOUT_ACTIONS: Final = frozenset(
    {
        ApprovalTimeoutAction.APPROVAL_TIMEOUT_ACTION_UNSPECIFIED,
        ApprovalTimeoutAction.APPROVAL_TIMEOUT_REJECT,
        ApprovalTimeoutAction.APPROVAL_TIMEOUT_FAIL,
    }
)
