"""The merge rules of docs/architecture/status-model.md, one behaviour per test."""

from __future__ import annotations

import pytest
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    TodoStatus,
    ToolCallStatus,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    SubAgentExecution,
    Todo,
    ToolCall,
    Usage,
)
from stigmer_status import apply_delta, effective_delta

P = ExecutionPhase


def _status(**kwargs: object) -> AgentExecutionStatus:
    return AgentExecutionStatus(**kwargs)  # type: ignore[arg-type]


def test_new_messages_are_appended_in_first_seen_order() -> None:
    stored = _status(messages=[AgentMessage(id="m1", content="a")])
    apply_delta(stored, _status(messages=[AgentMessage(id="m3"), AgentMessage(id="m2")]))
    apply_delta(stored, _status(messages=[AgentMessage(id="m2", content="x")]))
    assert [m.id for m in stored.messages] == ["m1", "m3", "m2"]
    assert stored.messages[2].content == "x"


def test_append_delta_concatenates_content_and_is_not_stored() -> None:
    stored = _status()
    for chunk in ["Hel", "lo", " world"]:
        apply_delta(
            stored,
            _status(
                messages=[
                    AgentMessage(id="m", type=MessageType.MESSAGE_AI, content=chunk, append=True)
                ]
            ),
        )
    assert stored.messages[0].content == "Hello world"
    assert stored.messages[0].append is False
    assert stored.messages[0].type == MessageType.MESSAGE_AI


def test_content_without_append_replaces() -> None:
    stored = _status(messages=[AgentMessage(id="m", content="draft")])
    apply_delta(stored, _status(messages=[AgentMessage(id="m", content="final")]))
    assert stored.messages[0].content == "final"


def test_unset_item_fields_stay() -> None:
    stored = _status(
        tool_calls=[
            ToolCall(
                id="t", name="execute", display_name="ls", status=ToolCallStatus.TOOL_CALL_RUNNING
            )
        ]
    )
    apply_delta(
        stored,
        _status(
            tool_calls=[ToolCall(id="t", status=ToolCallStatus.TOOL_CALL_COMPLETED, result="ok")]
        ),
    )
    call = stored.tool_calls[0]
    assert (call.name, call.display_name, call.result) == ("execute", "ls", "ok")
    assert call.status == ToolCallStatus.TOOL_CALL_COMPLETED


def test_message_fields_overwrite_whole() -> None:
    args = Struct()
    args.update({"command": "ls", "timeout": 5})
    stored = _status(tool_calls=[ToolCall(id="t", args=args)])
    new_args = Struct()
    new_args.update({"command": "pwd"})
    apply_delta(stored, _status(tool_calls=[ToolCall(id="t", args=new_args)]))
    assert dict(stored.tool_calls[0].args) == {"command": "pwd"}


def test_optional_error_empty_string_is_a_set_value() -> None:
    stored = _status(tool_calls=[ToolCall(id="t", error="boom")])
    apply_delta(stored, _status(tool_calls=[ToolCall(id="t", error="")]))
    assert stored.tool_calls[0].HasField("error")
    assert stored.tool_calls[0].error == ""


def test_repeated_fields_inside_a_message_replace_when_non_empty() -> None:
    stored = _status(
        messages=[AgentMessage(id="m", tool_calls=[ToolCall(id="a"), ToolCall(id="b")])]
    )
    apply_delta(stored, _status(messages=[AgentMessage(id="m", content="x")]))
    assert [t.id for t in stored.messages[0].tool_calls] == ["a", "b"]
    apply_delta(stored, _status(messages=[AgentMessage(id="m", tool_calls=[ToolCall(id="c")])]))
    assert [t.id for t in stored.messages[0].tool_calls] == ["c"]


def test_sub_agent_messages_and_tool_calls_are_upserted() -> None:
    stored = _status(
        sub_agent_executions=[
            SubAgentExecution(
                id="s",
                name="researcher",
                messages=[AgentMessage(id="m1", content="hi")],
                tool_calls=[ToolCall(id="t1")],
            )
        ]
    )
    delta = _status(
        sub_agent_executions=[
            SubAgentExecution(
                id="s",
                phase=P.EXECUTION_IN_PROGRESS,
                messages=[
                    AgentMessage(id="m1", content=" there", append=True),
                    AgentMessage(id="m2"),
                ],
                tool_calls=[ToolCall(id="t2")],
            )
        ]
    )
    apply_delta(stored, delta)
    sub = stored.sub_agent_executions[0]
    assert sub.name == "researcher"
    assert [(m.id, m.content) for m in sub.messages] == [("m1", "hi there"), ("m2", "")]
    assert [t.id for t in sub.tool_calls] == ["t1", "t2"]
    assert sub.phase == P.EXECUTION_IN_PROGRESS


def test_sub_agent_phase_never_leaves_final() -> None:
    stored = _status(sub_agent_executions=[SubAgentExecution(id="s", phase=P.EXECUTION_COMPLETED)])
    apply_delta(
        stored,
        _status(sub_agent_executions=[SubAgentExecution(id="s", phase=P.EXECUTION_IN_PROGRESS)]),
    )
    assert stored.sub_agent_executions[0].phase == P.EXECUTION_COMPLETED


def test_todos_upsert_by_key() -> None:
    stored = _status(
        todos={
            "todo-0": Todo(id="todo-0", content="look", status=TodoStatus.TODO_IN_PROGRESS),
            "todo-1": Todo(id="todo-1", content="write", status=TodoStatus.TODO_PENDING),
        }
    )
    apply_delta(
        stored,
        _status(
            todos={
                "todo-0": Todo(status=TodoStatus.TODO_COMPLETED),
                "todo-2": Todo(id="todo-2", content="test", status=TodoStatus.TODO_PENDING),
            }
        ),
    )
    assert stored.todos["todo-0"].content == "look"
    assert stored.todos["todo-0"].status == TodoStatus.TODO_COMPLETED
    assert stored.todos["todo-1"].status == TodoStatus.TODO_PENDING
    assert stored.todos["todo-2"].content == "test"


@pytest.mark.parametrize(
    ("current", "proposed", "expected"),
    [
        (P.EXECUTION_PHASE_UNSPECIFIED, P.EXECUTION_PENDING, P.EXECUTION_PENDING),
        (P.EXECUTION_PENDING, P.EXECUTION_IN_PROGRESS, P.EXECUTION_IN_PROGRESS),
        (P.EXECUTION_PENDING, P.EXECUTION_COMPLETED, P.EXECUTION_COMPLETED),
        (P.EXECUTION_IN_PROGRESS, P.EXECUTION_PENDING, P.EXECUTION_IN_PROGRESS),
        (P.EXECUTION_IN_PROGRESS, P.EXECUTION_FAILED, P.EXECUTION_FAILED),
        (P.EXECUTION_COMPLETED, P.EXECUTION_IN_PROGRESS, P.EXECUTION_COMPLETED),
        (P.EXECUTION_COMPLETED, P.EXECUTION_FAILED, P.EXECUTION_COMPLETED),
        (P.EXECUTION_CANCELLED, P.EXECUTION_COMPLETED, P.EXECUTION_CANCELLED),
        (P.EXECUTION_FAILED, P.EXECUTION_FAILED, P.EXECUTION_FAILED),
        (P.EXECUTION_IN_PROGRESS, P.EXECUTION_PHASE_UNSPECIFIED, P.EXECUTION_IN_PROGRESS),
    ],
)
def test_phase_moves_only_forward(
    current: ExecutionPhase.ValueType,
    proposed: ExecutionPhase.ValueType,
    expected: ExecutionPhase.ValueType,
) -> None:
    stored = _status(phase=current)
    apply_delta(stored, _status(phase=proposed, error="e"))
    assert stored.phase == expected
    assert stored.error == "e", "the rest of a delta applies even when its phase is refused"


def test_unset_top_level_fields_stay_and_set_ones_overwrite() -> None:
    started = Timestamp(seconds=10)
    stored = _status(
        phase=P.EXECUTION_IN_PROGRESS, error="old", started_at=started, usage=Usage(total_tokens=5)
    )
    apply_delta(stored, _status(usage=Usage(input_tokens=3, total_tokens=9)))
    assert stored.error == "old"
    assert stored.started_at == started
    assert stored.usage == Usage(input_tokens=3, total_tokens=9)
    apply_delta(stored, _status(error=""))
    assert stored.HasField("error")
    assert stored.error == ""


def test_sequence_is_not_merged() -> None:
    stored = _status(sequence=4)
    apply_delta(stored, _status(sequence=9, messages=[AgentMessage(id="m")]))
    assert stored.sequence == 4


def test_effective_delta_drops_only_a_refused_phase() -> None:
    stored = _status(phase=P.EXECUTION_COMPLETED)
    delta = _status(phase=P.EXECUTION_IN_PROGRESS, messages=[AgentMessage(id="m", content="x")])
    kept = effective_delta(stored, delta)
    assert not kept.HasField("phase")
    assert kept.messages[0].content == "x"
    assert delta.HasField("phase"), "the caller's delta is not modified"
    forward = effective_delta(_status(phase=P.EXECUTION_PENDING), delta)
    assert forward.phase == P.EXECUTION_IN_PROGRESS


def test_applying_a_whole_status_twice_is_idempotent() -> None:
    whole = _status(
        phase=P.EXECUTION_COMPLETED,
        messages=[AgentMessage(id="m1", content="hello"), AgentMessage(id="m2", content="bye")],
        tool_calls=[ToolCall(id="t", status=ToolCallStatus.TOOL_CALL_COMPLETED)],
        todos={"todo-0": Todo(id="todo-0", status=TodoStatus.TODO_COMPLETED)},
    )
    once = _status()
    apply_delta(once, whole)
    twice = _status()
    twice.CopyFrom(once)
    apply_delta(twice, whole)
    assert once == twice
