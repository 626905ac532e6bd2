"""The status builder with parallel tool calls, parallel sub-agents, a sub-agent that does not
exist, and a resumed attempt, replayed from real deepagents runs (tests/recordings)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
sys.path.insert(0, str(RECORDINGS))
from replay import Item, builder, feed, flush, items, replay  # noqa: E402

from agent_runner.status import StatusBuilder  # noqa: E402
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (  # noqa: E402
    ExecutionPhase,
    ToolCallStatus,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus  # noqa: E402
from stigmer_status import apply_delta  # noqa: E402

RUNNING, COMPLETED, FAILED = (
    ToolCallStatus.TOOL_CALL_RUNNING,
    ToolCallStatus.TOOL_CALL_COMPLETED,
    ToolCallStatus.TOOL_CALL_FAILED,
)


def model_calls(stream: Iterable[Item]) -> dict[tuple[tuple[str, ...], str], int]:
    """Total tokens of every model call in a stream, by (namespace, message id)."""
    calls = {}
    for namespace, mode, payload in stream:
        if mode == "updates" and isinstance(payload.get("model"), dict):
            for message in payload["model"]["messages"]:
                calls[(namespace, message.id)] = message.usage_metadata["total_tokens"]
    return calls


def test_a_raising_tool_fails_only_its_own_call_not_the_one_running_beside_it() -> None:
    target = builder()
    feed(items("parallel-tool-error"), target)
    sibling, raising = target.status.tool_calls
    assert sibling.display_name == "sleep 0.5; echo slow-sibling"
    # The run aborted while the sibling still ran: it did not fail, a retry re-runs it.
    assert sibling.status == RUNNING
    assert not sibling.error
    assert raising.display_name == "explode"
    assert raising.status == FAILED
    assert raising.error == "RecordedError: SandboxGone: the sandbox went away"


def test_parallel_sub_agents_each_get_their_own_events_results_and_usage() -> None:
    stream = items("parallel-subagents")
    target = builder()
    replay(stream, target)
    first, second, _nobody = target.status.sub_agent_executions
    task_calls = [c for c in target.status.tool_calls if c.name == "task"]
    assert [first.id, second.id] == [c.id for c in task_calls[:2]]
    assert [first.input, second.input] == ["First question.", "Second question."]
    tasks = {first.id: "", second.id: ""}
    for namespace, mode, payload in stream:
        if mode == "tasks" and not namespace and payload["name"] == "tools" and "input" in payload:
            tasks[payload["input"][0]["id"]] = str(payload["id"])
    calls = model_calls(stream)
    for sub in (first, second):
        assert sub.phase == ExecutionPhase.EXECUTION_COMPLETED
        assert sub.result == "The research answer."
        # Its own tool call and messages, from its own namespace only.
        assert [(c.display_name, c.status) for c in sub.tool_calls] == [
            ("echo researching", COMPLETED)
        ]
        assert "researching" in sub.tool_calls[0].result
        assert [m.content for m in sub.messages][-1] == "The research answer."
        own = sum(t for (ns, _), t in calls.items() if ns == (f"tools:{tasks[sub.id]}",))
        assert sub.usage.total_tokens == own > 0
    assert target.status.usage.total_tokens == sum(calls.values())


@pytest.mark.parametrize("every", [1, 4, 1000])
def test_parallel_sub_agents_rebuild_from_their_deltas(every: int) -> None:
    target = builder()
    rebuilt = AgentExecutionStatus()
    for delta in replay(items("parallel-subagents"), target, every=every):
        apply_delta(rebuilt, delta)
    assert rebuilt == target.final_status()


def test_a_task_naming_an_unknown_sub_agent_fails_with_deepagents_text() -> None:
    target = builder()
    replay(items("parallel-subagents"), target)
    call = target.status.tool_calls[2]
    sub = target.status.sub_agent_executions[2]
    assert (call.name, sub.id, sub.name) == ("task", call.id, "nobody")
    assert call.status == FAILED
    assert call.error.startswith("We cannot invoke subagent nobody because it does not exist")
    assert sub.phase == ExecutionPhase.EXECUTION_FAILED
    assert sub.error == call.error
    # The turn goes on: the model got the error text and answered.
    assert target.status.phase == ExecutionPhase.EXECUTION_COMPLETED


def attempt_one() -> AgentExecutionStatus:
    """The stored status after the first attempt: every delta it sent, applied."""
    target = builder()
    stored = AgentExecutionStatus()
    for delta in feed(items("resume-in-subagent.attempt-1"), target):
        apply_delta(stored, delta)
    target.record_error("SandboxGone: the sandbox went away", final=False)
    for delta in flush(target):
        apply_delta(stored, delta)
    return stored


def attempt_two(stored: AgentExecutionStatus, *, usage_first: bool) -> StatusBuilder:
    (checkpoint,) = items("resume-in-subagent.checkpoint")
    state: dict[str, Any] = checkpoint[2]
    target = builder(first_attempt=False)
    target.clear_error()
    if usage_first:
        target.seed_usage(stored)
    target.seed(state["messages"], state["todos"])
    if not usage_first:
        target.seed_usage(stored)
    for delta in replay(items("resume-in-subagent.attempt-2"), target):
        apply_delta(stored, delta)
    return target


@pytest.mark.parametrize("usage_first", [True, False])
def test_a_resumed_attempt_keeps_the_usage_of_the_earlier_one(usage_first: bool) -> None:
    first = items("resume-in-subagent.attempt-1")
    second = items("resume-in-subagent.attempt-2")
    # Each model call of the turn once: the resumed attempt re-runs none of them.
    calls = model_calls(first) | model_calls(second)
    assert len(calls) == len(model_calls(first)) + len(model_calls(second))
    stored = attempt_one()
    (sub,) = stored.sub_agent_executions
    before = sub.usage.total_tokens
    assert 0 < before < stored.usage.total_tokens
    # The raising command failed its call; the sub-agent stays open for the retry.
    assert sub.phase == ExecutionPhase.EXECUTION_IN_PROGRESS
    assert sub.error == "RecordedError: SandboxGone: the sandbox went away"
    target = attempt_two(stored, usage_first=usage_first)
    assert stored.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert stored.usage.total_tokens == sum(calls.values())
    sub_calls = sum(t for (ns, _), t in calls.items() if ns)
    (sub,) = stored.sub_agent_executions
    assert sub.usage.total_tokens == sub_calls > before
    assert sub.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert not sub.error
    assert [c.status for c in sub.tool_calls] == [COMPLETED, COMPLETED]
    assert target.final_status().usage == stored.usage


def test_without_a_stored_baseline_the_checkpoint_alone_counts() -> None:
    # A first attempt, or one whose stored status holds no usage: the checkpoint's calls count.
    (checkpoint,) = items("resume-in-subagent.checkpoint")
    target = builder(first_attempt=False)
    target.seed(checkpoint[2]["messages"], checkpoint[2]["todos"])
    seeded = [m for m in checkpoint[2]["messages"] if isinstance(m, AIMessage)]
    assert target.status.usage.total_tokens == sum(
        m.usage_metadata["total_tokens"] for m in seeded if m.usage_metadata
    )
