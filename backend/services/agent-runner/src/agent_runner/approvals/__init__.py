"""Tool-call approval in the runner (docs/guides/approvals.md): which calls deepagents stops
at (`_rules`), what a stopped run reports (`_pending`, `_waiting`) and how decisions resume
it (`_resume`)."""

from agent_runner.approvals._pending import find_pending, tool_schemas
from agent_runner.approvals._resume import check_decided_calls_answered, resume_command
from agent_runner.approvals._rules import BUILTIN_TOOLS, interrupt_config, matching_rule
from agent_runner.approvals._waiting import mark_waiting

__all__ = [
    "BUILTIN_TOOLS",
    "check_decided_calls_answered",
    "find_pending",
    "interrupt_config",
    "mark_waiting",
    "matching_rule",
    "resume_command",
    "tool_schemas",
]
