"""Flush policy: count, time and immediate events; failed updates retried, never doubled."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio
from langchain_core.messages import AIMessageChunk

from agent_runner.environment import Redactor
from agent_runner.status import (
    FlushGate,
    FlushPolicy,
    StatusBuilder,
    StatusPublisher,
    StatusUndelivered,
    Superseded,
)
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
    """The server's updateStatus contract in memory: fenced attempts, each number once."""

    def __init__(self) -> None:
        self.stored = AgentExecutionStatus()
        self.sequence = 1
        self.attempt = 0
        self.number = 0
        self.fail_next = 0
        self.lose_reply_next = 0
        self.refuse_next: grpc.StatusCode | None = None
        self.updates: list[AgentExecutionStatusUpdate] = []

    async def update_status(
        self, update: AgentExecutionStatusUpdate
    ) -> AgentExecutionStatusUpdateResult:
        self.updates.append(update)
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("server unavailable")
        if self.refuse_next is not None:
            code, self.refuse_next = self.refuse_next, None
            raise _rpc_error(code, "refused")
        if update.attempt < self.attempt:
            raise _rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "attempt superseded")
        if update.attempt == self.attempt and update.attempt_sequence <= self.number:
            return AgentExecutionStatusUpdateResult(sequence=self.sequence, applied=True)
        apply_delta(self.stored, update.status)
        self.sequence += 1
        self.attempt, self.number = update.attempt, update.attempt_sequence
        if self.lose_reply_next:
            self.lose_reply_next -= 1
            raise TimeoutError("deadline exceeded after the server applied it")
        return AgentExecutionStatusUpdateResult(sequence=self.sequence, applied=True)


def _rpc_error(code: grpc.StatusCode, details: str) -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(), details=details)


def publisher(
    sink: Sink, *, max_events: int = 100, attempt: int = 1001
) -> tuple[StatusBuilder, StatusPublisher]:
    builder = StatusBuilder(redact=Redactor([]))
    builder.start(message_id="h", message="hi", first_attempt=True)
    return builder, StatusPublisher(
        execution_id="exec-1",
        builder=builder,
        sink=sink,
        policy=FlushPolicy(max_events=max_events, max_delay=60, final_attempts=3, final_backoff=0),
        attempt=attempt,
    )


def chunk(text: str) -> tuple[AIMessageChunk, dict[str, str]]:
    return AIMessageChunk(content=text, id="ai-1"), {}


async def test_updates_carry_the_attempt_and_its_own_numbers() -> None:
    sink = Sink()
    builder, pub = publisher(sink, max_events=2)
    for text in ["a", "b", "c", "d"]:
        await pub.event(immediate=builder.handle((), "messages", chunk(text)))
    assert [(u.attempt, u.attempt_sequence, u.status.sequence) for u in sink.updates] == [
        (1001, 1, 0),
        (1001, 2, 0),
    ]
    assert sink.updates[1].status.messages[0].append


async def test_a_failed_update_is_resent_as_is_before_anything_newer() -> None:
    sink = Sink()
    builder, pub = publisher(sink)
    builder.handle((), "messages", chunk("hello "))
    sink.fail_next = 1
    assert not await pub.flush()
    builder.handle((), "messages", chunk("world"))
    assert await pub.flush()
    assert await pub.flush()
    assert sink.stored.messages[1].content == "hello world"
    assert [u.attempt_sequence for u in sink.updates] == [1, 1, 2]
    assert sink.updates[0] == sink.updates[1]


async def test_an_update_applied_but_unacknowledged_is_not_applied_twice() -> None:
    sink = Sink()
    builder, pub = publisher(sink)
    builder.handle((), "messages", chunk("hello "))
    sink.lose_reply_next = 1
    assert not await pub.flush()
    builder.handle((), "messages", chunk("world"))
    assert await pub.flush()
    assert await pub.flush()
    assert sink.stored.messages[1].content == "hello world"
    assert sink.sequence == 3, "two changes stored, the resend only acknowledged"


async def test_an_update_refused_as_invalid_is_dropped_and_the_status_goes_on() -> None:
    sink = Sink()
    builder, pub = publisher(sink)
    builder.handle((), "messages", chunk("bad "))
    sink.refuse_next = grpc.StatusCode.INVALID_ARGUMENT
    assert not await pub.flush()
    builder.finish(ExecutionPhase.EXECUTION_COMPLETED)
    await pub.close()
    assert sink.stored.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert [u.attempt_sequence for u in sink.updates] == [1, 2]


async def test_a_superseded_attempt_stops_writing() -> None:
    sink = Sink()
    sink.attempt = 1002
    builder, pub = publisher(sink, attempt=1001)
    builder.handle((), "messages", chunk("late"))
    with pytest.raises(Superseded):
        await pub.flush()
    assert sink.stored == AgentExecutionStatus()


async def test_the_final_update_is_retried_with_backoff() -> None:
    sink = Sink()
    builder, pub = publisher(sink)
    builder.finish(ExecutionPhase.EXECUTION_COMPLETED)
    sink.fail_next = 2
    await pub.close()
    assert sink.stored.phase == ExecutionPhase.EXECUTION_COMPLETED


async def test_an_undelivered_final_update_fails_the_attempt_for_a_retry() -> None:
    sink = Sink()
    builder, pub = publisher(sink)
    builder.finish(ExecutionPhase.EXECUTION_COMPLETED)
    sink.fail_next = 10
    with pytest.raises(StatusUndelivered, match="a retry of the turn will deliver it"):
        await pub.close()
