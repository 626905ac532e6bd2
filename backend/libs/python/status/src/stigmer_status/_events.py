"""Keeping a client's copy of an execution current from `subscribe` events."""

from __future__ import annotations

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent
from stigmer_status._merge import apply_delta
from stigmer_status._previews import PreviewOverlay


class SequenceGapError(ValueError):
    """A delta does not follow the copy's sequence: the client must resubscribe."""


def apply_event(current: AgentExecution | None, event: AgentExecutionEvent) -> AgentExecution:
    """The execution after `event`: a snapshot replaces the copy, a delta merges into it, a
    preview leaves it as it is (it is not a change; `LiveExecution` shows previews).

    Raises SequenceGapError when a delta or a preview arrives without a copy, or a delta out
    of order; a delta at or below the copy's sequence was already applied and is ignored.
    """
    payload = event.WhichOneof("payload")
    if payload == "preview":
        if current is None:
            raise SequenceGapError(f"a preview at {event.sequence} arrived before any snapshot")
        return current
    if payload == "snapshot":
        result = AgentExecution()
        result.CopyFrom(event.snapshot)
        result.status.sequence = event.sequence
        return result
    if payload != "delta":
        raise ValueError("event.payload: expected a snapshot, a delta or a preview, got nothing")
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


class LiveExecution:
    """A client's view of one execution: the stored copy from snapshots and deltas, with the
    streamed text of previews shown after it until the deltas carry it."""

    def __init__(self) -> None:
        self.execution: AgentExecution | None = None
        self._previews = PreviewOverlay()

    def apply(self, event: AgentExecutionEvent) -> None:
        """Raises SequenceGapError like `apply_event` (a preview before a snapshot is kept)."""
        if event.WhichOneof("payload") == "preview":
            self._previews.add(event.preview)
            if self.execution is not None:
                self._previews.prune(self.execution.status)
            return
        self.execution = apply_event(self.execution, event)
        self._previews.prune(self.execution.status)

    def view(self) -> AgentExecution | None:
        """The stored copy with the valid previews appended (the copy itself when none)."""
        if self.execution is None or not self._previews:
            return self.execution
        return self._previews.render(self.execution)

    def reset(self) -> None:
        """Before subscribing again from a snapshot."""
        self.execution = None
        self._previews = PreviewOverlay()
