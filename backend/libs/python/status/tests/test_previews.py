"""Previews on a client: shown after the stored content while valid, dropped as deltas arrive."""

from __future__ import annotations

import pytest

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, MessageType
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    StatusPreview,
    TextPreview,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    SubAgentExecution,
)
from stigmer_status import LiveExecution, SequenceGapError, apply_event


def snapshot(sequence: int, *messages: AgentMessage, **status: object) -> AgentExecutionEvent:
    execution = AgentExecution()
    execution.status.CopyFrom(AgentExecutionStatus(messages=list(messages), **status))  # type: ignore[arg-type]
    return AgentExecutionEvent(sequence=sequence, snapshot=execution)


def delta(sequence: int, **status: object) -> AgentExecutionEvent:
    return AgentExecutionEvent(sequence=sequence, delta=AgentExecutionStatus(**status))  # type: ignore[arg-type]


def preview(sequence: int, *texts: tuple[str, int, str], sub: str = "") -> AgentExecutionEvent:
    return AgentExecutionEvent(
        sequence=sequence,
        preview=StatusPreview(
            texts=[
                TextPreview(message_id=m, sub_agent_id=sub, offset=o, text=t) for m, o, t in texts
            ]
        ),
    )


def ai(message_id: str, content: str, *, append: bool = False) -> AgentMessage:
    return AgentMessage(id=message_id, type=MessageType.MESSAGE_AI, content=content, append=append)


def shown(live: LiveExecution, message_id: str = "m", sub: int | None = None) -> str:
    view = live.view()
    assert view is not None
    container = view.status if sub is None else view.status.sub_agent_executions[sub]
    return next(m.content for m in container.messages if m.id == message_id)


def test_previews_show_after_the_stored_text_until_deltas_carry_it() -> None:
    live = LiveExecution()
    live.apply(snapshot(2, ai("m", "Hello")))
    live.apply(preview(2, ("m", 5, " wor")))
    live.apply(preview(2, ("m", 9, "ld")))
    assert shown(live) == "Hello world"
    assert live.execution is not None
    assert live.execution.status.messages[0].content == "Hello"  # the stored copy is untouched
    # The batched delta brings part of it: the rest of the previews still shows.
    live.apply(delta(3, messages=[ai("m", " wo", append=True)]))
    assert shown(live) == "Hello world"
    live.apply(delta(4, messages=[ai("m", "rld!", append=True)]))
    assert shown(live) == "Hello world!"
    assert not live._previews  # both previews stale now, so dropped


def test_the_first_tokens_of_a_new_reply_show_before_any_delta_has_it() -> None:
    live = LiveExecution()
    sub = SubAgentExecution(id="call-1", name="researcher")
    live.apply(snapshot(1, sub_agent_executions=[sub]))
    live.apply(preview(1, ("r-1", 0, "Look")))
    live.apply(preview(1, ("s-1", 0, "Sub text"), sub="call-1"))
    live.apply(preview(1, ("x", 0, "of a sub-agent not known yet"), sub="call-9"))
    view = live.view()
    assert view is not None
    (main,) = view.status.messages
    assert (main.id, main.type, main.content) == ("r-1", MessageType.MESSAGE_AI, "Look")
    (sub_message,) = view.status.sub_agent_executions[0].messages
    assert (sub_message.id, sub_message.content, sub_message.namespace) == (
        "s-1",
        "Sub text",
        "researcher",
    )
    assert [s.id for s in view.status.sub_agent_executions] == ["call-1"]


def test_a_preview_beyond_the_stored_text_waits_for_the_gap_to_close() -> None:
    live = LiveExecution()
    live.apply(snapshot(1, ai("m", "ab")))
    live.apply(preview(1, ("m", 4, "ef")))  # "cd" is still in flight in a delta
    assert shown(live) == "ab"
    live.apply(delta(2, messages=[ai("m", "cd", append=True)]))
    assert shown(live) == "abcdef"


def test_a_final_phase_drops_every_preview() -> None:
    live = LiveExecution()
    live.apply(snapshot(1, ai("m", "a")))
    live.apply(preview(1, ("m", 1, "bc")))
    live.apply(delta(2, phase=ExecutionPhase.EXECUTION_CANCELLED))
    assert shown(live) == "a"


def test_apply_event_leaves_the_copy_as_it_is_for_a_preview() -> None:
    current = apply_event(None, snapshot(1, ai("m", "a")))
    assert apply_event(current, preview(1, ("m", 1, "b"))) is current
    assert current.status.messages[0].content == "a"
    with pytest.raises(SequenceGapError, match="preview"):
        apply_event(None, preview(1, ("m", 0, "b")))


def test_a_preview_before_the_snapshot_is_kept_for_it() -> None:
    live = LiveExecution()
    live.apply(preview(1, ("m", 0, "early")))
    assert live.view() is None
    live.apply(snapshot(1))
    assert shown(live) == "early"
    live.reset()
    assert live.view() is None
