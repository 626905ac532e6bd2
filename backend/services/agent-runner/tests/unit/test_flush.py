"""Flush policy: count, time and immediate events; failed updates retried, never doubled."""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk

from agent_runner.environment import Redactor
from agent_runner.status import FlushGate, FlushPolicy, StatusBuilder, StatusPublisher
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionStatusUpdate,
    AgentExecutionStatusUpdateResult,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_status import apply_delta


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_gate_flushes_by_count() -> None:
    gate = FlushGate(FlushPolicy(max_events=3, max_delay=10), Clock())
    assert [gate.note(immediate=False) for _ in range(3)] == [False, False, True]


def test_gate_flushes_by_time_since_the_first_batched_event() -> None:
    clock = Clock()
    gate = FlushGate(FlushPolicy(max_events=100, max_delay=0.25), clock)
    assert not gate.note(immediate=False)
    clock.now = 0.2
    assert not gate.note(immediate=False)
    assert not gate.overdue()
    clock.now = 0.26
    assert gate.overdue()
    assert gate.note(immediate=False)
    gate.reset()
    assert not gate.overdue()


def test_gate_flushes_immediate_events_at_once() -> None:
    gate = FlushGate(FlushPolicy(max_events=100, max_delay=10), Clock())
    assert gate.note(immediate=True)


class Sink:
    """The server's updateStatus contract in memory: numbered updates, shared merge rules."""

    def __init__(self) -> None:
        self.stored = AgentExecutionStatus()
        self.sequence = 0
        self.fail_next = 0
        self.lose_reply_next = 0
        self.updates: list[AgentExecutionStatusUpdate] = []

    async def update_status(
        self, update: AgentExecutionStatusUpdate
    ) -> AgentExecutionStatusUpdateResult:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("server unavailable")
        self.updates.append(update)
        if update.status.sequence <= self.sequence:
            return AgentExecutionStatusUpdateResult(sequence=self.sequence, applied=False)
        apply_delta(self.stored, update.status)
        self.sequence = update.status.sequence
        if self.lose_reply_next:
            self.lose_reply_next -= 1
            raise TimeoutError("deadline exceeded after the server applied it")
        return AgentExecutionStatusUpdateResult(sequence=self.sequence, applied=True)

    async def stored_sequence(self, execution_id: str) -> int:
        return self.sequence


def publisher(sink: Sink, *, max_events: int = 100) -> tuple[StatusBuilder, StatusPublisher]:
    builder = StatusBuilder(redact=Redactor([]))
    builder.start(message_id="h", message="hi", first_attempt=True)
    return builder, StatusPublisher(
        execution_id="exec-1",
        builder=builder,
        sink=sink,
        policy=FlushPolicy(max_events=max_events, max_delay=60, final_attempts=3, final_backoff=0),
        last_sequence=7,
    )


def chunk(text: str) -> tuple[AIMessageChunk, dict[str, str]]:
    return AIMessageChunk(content=text, id="ai-1"), {}


async def test_updates_are_numbered_from_the_stored_sequence() -> None:
    sink = Sink()
    sink.sequence = 7
    builder, pub = publisher(sink, max_events=2)
    for text in ["a", "b", "c", "d"]:
        await pub.event(immediate=builder.handle((), "messages", chunk(text)))
    assert [u.status.sequence for u in sink.updates] == [8, 9]
    assert sink.updates[1].status.messages[0].append


async def test_a_failed_update_is_retried_with_the_next_flush() -> None:
    sink = Sink()
    sink.sequence = 7
    builder, pub = publisher(sink)
    builder.handle((), "messages", chunk("hello "))
    sink.fail_next = 1
    assert not await pub.flush()
    builder.handle((), "messages", chunk("world"))
    assert await pub.flush()
    assert sink.stored.messages[1].content == "hello world"
    assert sink.sequence == 8


async def test_an_update_applied_but_unacknowledged_is_not_sent_twice() -> None:
    sink = Sink()
    sink.sequence = 7
    builder, pub = publisher(sink)
    builder.handle((), "messages", chunk("hello "))
    sink.lose_reply_next = 1
    assert not await pub.flush()
    builder.handle((), "messages", chunk("world"))
    assert await pub.flush()
    assert sink.stored.messages[1].content == "hello world"
    assert [u.status.sequence for u in sink.updates] == [8, 9]


async def test_the_final_update_is_retried_with_backoff() -> None:
    sink = Sink()
    sink.sequence = 7
    builder, pub = publisher(sink)
    builder.finish(ExecutionPhase.EXECUTION_COMPLETED)
    sink.fail_next = 2
    assert await pub.close()
    assert sink.stored.phase == ExecutionPhase.EXECUTION_COMPLETED


async def test_the_final_update_gives_up_without_raising() -> None:
    sink = Sink()
    builder, pub = publisher(sink)
    builder.finish(ExecutionPhase.EXECUTION_COMPLETED)
    sink.fail_next = 10
    assert not await pub.close()
