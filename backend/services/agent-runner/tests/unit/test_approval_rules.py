"""From `tool_approvals` to deepagents' `interrupt_on`, and decisions to a resume Command."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Interrupt

from agent_runner.agent import AgentPlan
from agent_runner.approvals import (
    BUILTIN_TOOLS,
    check_decided_calls_answered,
    interrupt_config,
    resume_command,
    tool_schemas,
)
from agent_runner.config import ProviderDefaults
from agent_runner.environment import Redactor
from agent_runner.errors import InvalidInputError
from agent_runner.graphs import AgentGraphs, bound_backend
from agent_runner.models import DefaultModelFactory
from agent_runner.sandbox import SandboxShellBackend
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType, ToolApprovalRule
from stigmer_contracts import ApprovalDecision

APPROVE = ApprovalDecisionType.APPROVAL_DECISION_APPROVE
REJECT = ApprovalDecisionType.APPROVAL_DECISION_REJECT
NAMES = [*BUILTIN_TOOLS, "mcp_github_create_issue", "mcp_github_list_repos", "mcp_jira_create"]


def test_globs_expand_over_the_agents_tool_names_first_rule_wins() -> None:
    rules = [
        ToolApprovalRule(tool="execute", allowed_decisions=[APPROVE, REJECT]),
        ToolApprovalRule(tool="*_file"),
        ToolApprovalRule(tool="mcp:github/create_*"),
    ]
    config = interrupt_config(rules, NAMES)
    assert config == {
        "execute": {"allowed_decisions": ["approve", "reject"]},
        "read_file": {"allowed_decisions": ["approve", "edit", "reject"]},
        "write_file": {"allowed_decisions": ["approve", "edit", "reject"]},
        "edit_file": {"allowed_decisions": ["approve", "edit", "reject"]},
        "mcp_github_create_issue": {"allowed_decisions": ["approve", "edit", "reject"]},
    }


def test_mcp_rules_match_only_their_servers_and_star_gates_everything() -> None:
    assert set(interrupt_config([ToolApprovalRule(tool="mcp:*/create*")], NAMES)) == {
        "mcp_github_create_issue",
        "mcp_jira_create",
    }
    assert set(interrupt_config([ToolApprovalRule(tool="*")], NAMES)) == set(NAMES)
    assert interrupt_config([ToolApprovalRule(tool="mcp:gitlab/*")], NAMES) == {}


def test_the_builtin_list_is_every_tool_a_compiled_agent_has(tmp_path: Path) -> None:
    graphs = AgentGraphs(
        models=DefaultModelFactory(ProviderDefaults()), checkpointer=InMemorySaver()
    )
    agent = Agent()
    agent.spec.tool_approvals.add(tool="*")
    sandbox = SandboxShellBackend(
        tmp_path,
        env={},
        timeout=30,
        max_output_bytes=10_000,
        sandbox_id="local-rules",
        prefix=(),
        redact=Redactor(()),
    )
    with bound_backend(sandbox):
        graph = graphs.graph(
            agent=agent,
            plan=AgentPlan(model="scripted:demo", skills=(), subagent_skills={}),
            env={},
            backend=sandbox,
        )
    tools = set(tool_schemas(graph))
    # write_todos is answered by its middleware, not the tool node.
    assert tools | {"write_todos"} == set(BUILTIN_TOOLS)
    assert tool_schemas(graph)["execute"]["required"] == ["command"]


GATED = frozenset({"execute", "write_file"})
INTERRUPT = Interrupt(
    value={
        "action_requests": [
            {"name": "execute", "args": {"command": "ls"}, "description": ""},
            {"name": "write_file", "args": {"file_path": "/a", "content": "x"}, "description": ""},
        ],
        "review_configs": [
            {"action_name": "execute", "allowed_decisions": ["approve", "edit", "reject"]},
            {"action_name": "write_file", "allowed_decisions": ["approve", "reject"]},
        ],
    },
    id="a" * 32,
)


def decision(position: int, kind: int, **extra: str) -> ApprovalDecision:
    return ApprovalDecision(
        tool_call_id=f"c{position}", interrupt_id="a" * 32, position=position, type=kind, **extra
    )


def test_decisions_resume_keyed_by_interrupt_in_position_order() -> None:
    command = resume_command(
        [INTERRUPT],
        [
            decision(1, REJECT, message="no"),
            decision(0, 2, edited_args_json='{"command": "pwd"}'),
        ],
        gated=GATED,
    )
    assert command is not None
    assert command.resume == {
        "a" * 32: {
            "decisions": [
                {"type": "edit", "edited_action": {"name": "execute", "args": {"command": "pwd"}}},
                {"type": "reject", "message": "no"},
            ]
        }
    }


def test_decisions_for_no_pending_interrupt_resume_nothing() -> None:
    assert resume_command([], [decision(0, APPROVE)], gated=GATED) is None


def test_a_call_whose_rule_was_removed_while_it_waited_does_not_resume_silently() -> None:
    decisions = [decision(0, APPROVE), decision(1, APPROVE)]
    with pytest.raises(InvalidInputError, match="write_file, which the agent's rules no longer"):
        resume_command([INTERRUPT], decisions, gated={"execute"})


@pytest.mark.parametrize(
    "decisions",
    [
        [decision(0, APPROVE)],  # the second call has no decision
        [decision(0, APPROVE), decision(1, 2, edited_args_json="{}")],  # edit not allowed
    ],
)
def test_decisions_that_would_poison_the_approval_are_refused(
    decisions: list[ApprovalDecision],
) -> None:
    with pytest.raises(InvalidInputError):
        resume_command([INTERRUPT], decisions, gated=GATED)


def test_a_finished_checkpoint_must_hold_a_result_for_each_decided_call() -> None:
    asked = AIMessage(content="", tool_calls=[{"id": "c0", "name": "execute", "args": {}}])
    answered = ToolMessage(content="ok", tool_call_id="c0")
    check_decided_calls_answered(
        [asked, answered], [replace(decision(0, APPROVE), tool_call_id="c0")]
    )
    # A sub-agent's call is not in the main agent's messages: nothing to check there.
    check_decided_calls_answered([asked], [replace(decision(0, APPROVE), tool_call_id="sub-c")])
    with pytest.raises(InvalidInputError, match="waited on c0"):
        check_decided_calls_answered([asked], [replace(decision(0, APPROVE), tool_call_id="c0")])
