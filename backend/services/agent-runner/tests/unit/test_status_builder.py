"""The status builder replays streams recorded from real deepagents runs (tests/recordings)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage

from agent_runner.status._bounds import MAX_FIELD_CHARS
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    TodoStatus,
    ToolCallStatus,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_status import apply_delta

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
sys.path.insert(0, str(RECORDINGS))
from replay import Item, builder, items, replay  # noqa: E402

SECRET = "s3cr3t-token-value"


def test_demo_turn_builds_messages_tool_calls_todos_and_the_sub_agent() -> None:
    target = builder()
    replay(items("demo"), target)
    status = target.status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert status.messages[0].type == MessageType.MESSAGE_HUMAN
    assert status.messages[0].content == "Show me the demo."
    names = [call.name for call in status.tool_calls]
    assert names == ["execute", "read_file", "task"]  # write_todos goes to todos instead
    assert all(call.status == ToolCallStatus.TOOL_CALL_COMPLETED for call in status.tool_calls)
    execute = status.tool_calls[0]
    assert execute.display_name == "echo 'turn one was here' >> notes.txt && ls"
    assert execute.component.type == "terminal"
    assert "notes.txt" in execute.result
    assert execute.started_at.seconds
    assert execute.completed_at.seconds >= execute.started_at.seconds
    assert status.tool_calls[1].component.type == "file_read"
    assert "Say hello." in status.tool_calls[1].result
    # Every tool call is in both lists: on the AI message that made it and in tool_calls.
    in_messages = {c.id for m in status.messages for c in m.tool_calls}
    assert in_messages == {c.id for c in status.tool_calls}
    tool_messages = [m for m in status.messages if m.type == MessageType.MESSAGE_TOOL]
    assert {m.tool_call_id for m in tool_messages} == in_messages
    assert [status.todos[f"todo-{i}"].status for i in range(4)] == [TodoStatus.TODO_COMPLETED] * 4
    assert status.todos["todo-2"].content == "Ask the researcher about the system"
    final = [m for m in status.messages if m.type == MessageType.MESSAGE_AI][-1]
    assert final.content.startswith("This is the scripted demo model.")
    assert final.content.endswith("All done.")


def test_sub_agent_events_are_routed_into_its_execution() -> None:
    target = builder()
    replay(items("demo"), target)
    (sub,) = target.status.sub_agent_executions
    task_call = target.status.tool_calls[2]
    assert sub.id == task_call.id
    assert sub.name == "researcher"
    assert sub.input == "Find out which operating system the sandbox runs."
    assert sub.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert [c.display_name for c in sub.tool_calls] == ["uname -s"]
    assert sub.tool_calls[0].namespace == "researcher"
    assert "Linux" in sub.tool_calls[0].result
    assert {m.namespace for m in sub.messages} == {"researcher"}
    assert sub.messages[-1].content == sub.result
    assert sub.usage.total_tokens > 0
    # The sub-agent's work stays out of the main agent's lists.
    assert all(c.namespace == "" for c in target.status.tool_calls)
    assert "uname -s" not in [c.display_name for c in target.status.tool_calls]


def test_usage_totals_add_main_and_sub_agent_calls() -> None:
    stream = items("demo")
    target = builder()
    replay(stream, target)
    expected = hidden = 0
    for namespace, mode, payload in stream:
        if mode == "updates" and isinstance(payload.get("model"), dict):
            for message in payload["model"]["messages"]:
                expected += message.usage_metadata["total_tokens"]
                todos_only = all(c["name"] == "write_todos" for c in message.tool_calls)
                if not namespace and not message.text and todos_only:
                    hidden += message.usage_metadata["total_tokens"]
    assert target.status.usage.total_tokens == expected > 0
    # A reply that only rewrote the todo list shows as todos, not as a message.
    per_message = sum(m.usage.total_tokens for m in target.status.messages)
    sub_agent = target.status.sub_agent_executions[0].usage.total_tokens
    assert per_message + sub_agent + hidden == expected


@pytest.mark.parametrize("every", [1, 3, 10, 1000])
def test_deltas_applied_in_order_rebuild_the_status(every: int) -> None:
    target = builder()
    deltas = replay(items("demo"), target, every=every)
    rebuilt = AgentExecutionStatus()
    for delta in deltas:
        apply_delta(rebuilt, delta)
    assert rebuilt == target.final_status()


def test_streamed_text_goes_out_as_append_deltas_of_linear_size() -> None:
    target = builder()
    deltas = replay(items("demo"), target)
    final = [m for m in target.status.messages if m.type == MessageType.MESSAGE_AI][-1]
    pieces = [m for d in deltas for m in d.messages if m.id == final.id]
    assert len(pieces) > 3
    assert any(p.append for p in pieces)
    assert sum(len(p.content) for p in pieces) == len(final.content)


def test_duplicate_events_are_recognised() -> None:
    stream = items("demo")
    once = builder()
    replay(stream, once)
    doubled: list[Item] = []
    for item in stream:
        doubled.append(item)
        chunk = item[1] == "messages" and isinstance(item[2][0], AIMessageChunk)
        if not chunk:  # a repeated token is indistinguishable from new text
            doubled.append(item)
    twice = builder()
    replay(doubled, twice)
    assert twice.final_status() == once.final_status()


def test_failing_tool_is_failed_with_its_error_and_the_turn_goes_on() -> None:
    target = builder([SECRET])
    replay(items("failure-and-secret"), target)
    failed, recovered = target.status.tool_calls
    assert failed.status == ToolCallStatus.TOOL_CALL_FAILED
    assert "Exit code: 3" in failed.error
    assert recovered.status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert "recovered" in recovered.result
    assert target.status.phase == ExecutionPhase.EXECUTION_COMPLETED


def test_a_secret_never_leaves_in_any_delta() -> None:
    stream = items("failure-and-secret")
    raw = "".join(repr(payload) for _ns, _mode, payload in stream)
    assert SECRET in raw  # the model streamed it, split across chunks
    target = builder([SECRET])
    deltas = replay(stream, target)
    for delta in deltas:
        assert SECRET not in str(delta)
    assert SECRET not in str(target.status)
    final = target.status.messages[-1]
    assert "the token is *** and nothing else" in final.content


def test_shrinking_todo_list_cancels_the_dropped_keys() -> None:
    target = builder()
    target.handle((), "updates", {"tools": {"todos": [{"content": "a", "status": "pending"}] * 3}})
    target.handle((), "updates", {"tools": {"todos": [{"content": "a", "status": "completed"}]}})
    todos = target.status.todos
    assert todos["todo-0"].status == TodoStatus.TODO_COMPLETED
    assert todos["todo-1"].status == todos["todo-2"].status == TodoStatus.TODO_CANCELLED


def test_a_giant_tool_result_and_argument_are_cut_below_the_servers_string_limit() -> None:
    # The server refuses (and the publisher then drops) an update with a string over 1 MiB.
    server_limit = 1_048_576
    huge = "x" * (2 * server_limit)
    target = builder()
    call = {"id": "call-1", "name": "write_file", "args": {"file_path": "a", "content": huge}}
    target.handle(
        (), "updates", {"model": {"messages": [AIMessage("", id="ai-1", tool_calls=[call])]}}
    )
    target.handle(
        (), "updates", {"tools": {"messages": [ToolMessage(huge, tool_call_id="call-1", id="t-1")]}}
    )
    delta = target.take_delta()
    assert delta is not None
    (tool,) = delta.status.tool_calls
    assert len(tool.result) < server_limit
    assert tool.result.endswith(f"[{2 * server_limit - MAX_FIELD_CHARS} more characters not shown]")
    content = tool.args["content"]
    assert isinstance(content, str)
    assert len(content) < server_limit
    tool_message = next(m for m in delta.status.messages if m.tool_call_id == "call-1")
    assert len(tool_message.content) < server_limit


def test_a_result_within_the_cap_is_kept_whole() -> None:
    target = builder()
    text = "y" * MAX_FIELD_CHARS
    call = {"id": "call-1", "name": "read_file", "args": {"file_path": "a"}}
    target.handle(
        (), "updates", {"model": {"messages": [AIMessage("", id="ai-1", tool_calls=[call])]}}
    )
    target.handle(
        (), "updates", {"tools": {"messages": [ToolMessage(text, tool_call_id="call-1", id="t-1")]}}
    )
    assert target.status.tool_calls[0].result == text
