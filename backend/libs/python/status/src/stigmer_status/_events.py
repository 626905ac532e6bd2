"""Keeping a client's copy of an execution current from `subscribe` events."""

from __future__ import annotations

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent
from stigmer_status._merge import apply_delta


class SequenceGapError(ValueError):
    """A delta does not follow the copy's sequence: the client must resubscribe."""


def apply_event(current: AgentExecution | None, event: AgentExecutionEvent) -> AgentExecution:
    """The execution after `event`: a snapshot replaces the copy, a delta merges into it.

    Raises SequenceGapError when a delta arrives without a copy or out of order; a delta
    at or below the copy's sequence was already applied and is ignored.
    """
    payload = event.WhichOneof("payload")
    if payload == "snapshot":
        result = AgentExecution()
        result.CopyFrom(event.snapshot)
        result.status.sequence = event.sequence
        return result
    if payload != "delta":
        raise ValueError("event.payload: expected a snapshot or a delta, got nothing")
    if current is None:
        raise SequenceGapError(f"delta {event.sequence} arrived before any snapshot")
    if event.sequence <= current.status.sequence:
        return current
    if event.sequence != current.status.sequence + 1:
        raise SequenceGapError(
            f"delta {event.sequence} does not follow sequence {current.status.sequence}"
        )
    apply_delta(current.status, event.delta)
    current.status.sequence = event.sequence
    return current
