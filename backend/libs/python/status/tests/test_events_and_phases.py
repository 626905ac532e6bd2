"""Client-side event application, phase helpers, todo keys and the pinned public API."""

from __future__ import annotations

import pytest

import stigmer_status
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from ai.stigmer.agentic.environment.v1.spec_pb2 import EnvironmentSpec
from stigmer_status import (
    SequenceGapError,
    apply_event,
    can_move,
    is_final,
    is_map,
    phase_rank,
    todo_key,
)

P = ExecutionPhase


def _delta(sequence: int, text: str) -> AgentExecutionEvent:
    return AgentExecutionEvent(
        sequence=sequence,
        delta=AgentExecutionStatus(messages=[AgentMessage(id="m", content=text, append=True)]),
    )


def test_public_api_is_pinned() -> None:
    assert sorted(stigmer_status.__all__) == [
        "FINAL_PHASES",
        "LiveExecution",
        "PreviewOverlay",
        "SequenceGapError",
        "apply_delta",
        "apply_event",
        "can_move",
        "effective_delta",
        "is_final",
        "is_map",
        "phase_rank",
        "todo_key",
    ]


def test_snapshot_then_deltas_build_the_copy() -> None:
    snapshot = AgentExecution(
        kind="AgentExecution", status=AgentExecutionStatus(phase=P.EXECUTION_PENDING)
    )
    copy = apply_event(None, AgentExecutionEvent(sequence=3, snapshot=snapshot))
    assert copy.status.sequence == 3
    copy = apply_event(copy, _delta(4, "a"))
    copy = apply_event(copy, _delta(5, "b"))
    assert copy.status.messages[0].content == "ab"
    assert copy.status.sequence == 5
    assert snapshot.status.sequence == 0, "the event's snapshot is copied, not aliased"


def test_a_repeated_delta_is_ignored() -> None:
    copy = apply_event(None, AgentExecutionEvent(sequence=1, snapshot=AgentExecution()))
    copy = apply_event(copy, _delta(2, "a"))
    copy = apply_event(copy, _delta(2, "a"))
    assert copy.status.messages[0].content == "a"


def test_a_gap_raises() -> None:
    copy = apply_event(None, AgentExecutionEvent(sequence=1, snapshot=AgentExecution()))
    with pytest.raises(SequenceGapError, match="does not follow sequence 1"):
        apply_event(copy, _delta(3, "a"))
    with pytest.raises(SequenceGapError, match="before any snapshot"):
        apply_event(None, _delta(1, "a"))


def test_an_empty_event_names_the_payload() -> None:
    with pytest.raises(ValueError, match=r"event\.payload"):
        apply_event(None, AgentExecutionEvent(sequence=1))


def test_phase_helpers() -> None:
    assert [is_final(p) for p in (P.EXECUTION_PENDING, P.EXECUTION_IN_PROGRESS)] == [False, False]
    assert all(
        is_final(p) for p in (P.EXECUTION_COMPLETED, P.EXECUTION_FAILED, P.EXECUTION_CANCELLED)
    )
    assert (
        phase_rank(P.EXECUTION_PENDING)
        < phase_rank(P.EXECUTION_IN_PROGRESS)
        < phase_rank(P.EXECUTION_FAILED)
    )
    assert can_move(P.EXECUTION_PENDING, P.EXECUTION_CANCELLED)
    assert not can_move(P.EXECUTION_CANCELLED, P.EXECUTION_FAILED)


def test_todo_key() -> None:
    assert [todo_key(i) for i in range(3)] == ["todo-0", "todo-1", "todo-2"]
    with pytest.raises(ValueError, match="position"):
        todo_key(-1)


def test_is_map_tells_maps_from_repeated_messages_messages_and_scalars() -> None:
    fields = AgentExecutionStatus.DESCRIPTOR.fields_by_name
    assert is_map(fields["todos"])  # map<string, Todo>
    assert not is_map(fields["messages"])  # repeated AgentMessage
    assert not is_map(fields["usage"])  # a message
    assert not is_map(fields["sequence"])  # a scalar
    env = EnvironmentSpec.DESCRIPTOR.fields_by_name["data"]
    assert is_map(env)
