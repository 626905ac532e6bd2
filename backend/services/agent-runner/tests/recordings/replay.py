"""Replaying recorded streams into a `StatusBuilder`, as the status tests do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codec import read_items
from google.protobuf.timestamp_pb2 import Timestamp

from agent_runner.environment import Redactor
from agent_runner.status import StatusBuilder
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus

HERE = Path(__file__).resolve().parent
Item = tuple[tuple[str, ...], str, Any]


def items(name: str) -> list[Item]:
    return list(read_items(HERE / f"{name}.jsonl"))


def clock() -> Iterator[Timestamp]:
    second = 1_700_000_000
    while True:
        second += 1
        yield Timestamp(seconds=second)


def builder(secrets: list[str] | None = None, *, first_attempt: bool = True) -> StatusBuilder:
    ticks = clock()
    result = StatusBuilder(redact=Redactor(secrets or []), clock=lambda: next(ticks))
    result.start(
        message_id="exec-1-human", message="Show me the demo.", first_attempt=first_attempt
    )
    return result


def feed(
    stream: list[Item], target: StatusBuilder, *, every: int = 1
) -> list[AgentExecutionStatus]:
    """Feeds the stream, taking a delta every `every` events; returns the deltas sent."""
    deltas = []
    for index, (namespace, mode, payload) in enumerate(stream):
        immediate = target.handle(namespace, mode, payload)
        if immediate or index % every == 0:
            deltas.extend(flush(target))
    return deltas


def flush(target: StatusBuilder) -> list[AgentExecutionStatus]:
    delta = target.take_delta()
    if delta is None:
        return []
    target.commit(delta)
    return [delta.status]


def replay(
    stream: list[Item], target: StatusBuilder, *, every: int = 1
) -> list[AgentExecutionStatus]:
    """A whole turn: the stream, then the end; returns every delta sent."""
    deltas = feed(stream, target, every=every)
    target.finish(ExecutionPhase.EXECUTION_COMPLETED)
    final = flush(target)
    assert final, "finishing the turn must leave a delta"
    assert target.take_delta() is None
    return deltas + final
