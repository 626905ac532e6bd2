"""From the deep agent's stream to an `AgentExecutionStatus`, its deltas and its previews.

`StatusBuilder` is the one object a turn talks to; each concern lives in its own module:
- `_routing.py`: which LangGraph stream event means what, and for which agent;
- `_items.py`: the status as items (messages, tool calls, sub-agents, todos, usage);
- `_text.py`: message text redacted, held back where a secret may begin, and previewed;
- `_usage.py`: token usage counted once per model call, across attempts;
- `_deltas.py` and `_changes.py`: what changed since the server's last acknowledgement.

Every change marks the item it touched; `take_delta()` turns the marks into a delta
(streamed text as `append` content, so bytes grow linearly) and `commit()` clears them once
the server has it. Marks carry a version, so events arriving while an update is in flight
stay marked for the next one. `take_preview()` gives the streamed text that left in neither
a delta nor a preview yet, for watchers to see ahead of the batched update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from langchain_core.messages import BaseMessage

from agent_runner.environment import Redactor
from agent_runner.status._changes import ChangeSet, Delta
from agent_runner.status._deltas import take_delta
from agent_runner.status._items import StatusItems
from agent_runner.status._routing import StreamRouter
from agent_runner.status._text import MessageTexts
from agent_runner.status._usage import MAIN
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import StatusPreview
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus

__all__ = ["MAIN", "StatusBuilder", "now"]


def now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


class StatusBuilder:
    def __init__(self, *, redact: Redactor, clock: Callable[[], Timestamp] = now) -> None:
        self._changes = ChangeSet()
        self._texts = MessageTexts(redact, self._changes)
        self._items = StatusItems(texts=self._texts, changes=self._changes, clock=clock)
        self._router = StreamRouter(self._items)

    @property
    def status(self) -> AgentExecutionStatus:
        return self._items.status

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, *, message_id: str, message: str, first_attempt: bool) -> None:
        self._items.set_phase(ExecutionPhase.EXECUTION_IN_PROGRESS)
        if first_attempt:
            self._items.stamp("started_at")
        self._items.human(message_id, message)

    def finish(self, phase: ExecutionPhase.ValueType, error: str | None = None) -> None:
        self._texts.finish_streaming()
        self._items.set_phase(phase)
        self._items.stamp("completed_at")
        if error is not None:
            self._items.set_error(error)
        if phase != ExecutionPhase.EXECUTION_COMPLETED:
            self._items.end_open_sub_agents(phase)

    def record_error(self, error: str, *, final: bool) -> None:
        """A failed attempt: final ones end FAILED; a retryable one keeps the phase open."""
        if final:
            self.finish(ExecutionPhase.EXECUTION_FAILED, error)
        else:
            self._items.set_error(error)

    def clear_error(self) -> None:
        """A retry starts clean: the previous attempt's error no longer describes the turn."""
        self._items.set_error("")

    def redact(self, text: str) -> str:
        return self._texts.redact(text)

    def set_redactor(self, redact: Redactor) -> None:
        """The environment is known: text kept so far is redacted again with every secret."""
        self._texts.set_redactor(redact, self._items.message_of)

    def seed(self, messages: Sequence[BaseMessage], todos: Sequence[Mapping[str, Any]]) -> None:
        """A resumed attempt: what the checkpoint already holds of this turn."""
        self._router.seed(messages, todos)

    def seed_usage(self, stored: AgentExecutionStatus) -> None:
        """A resumed attempt: the usage the stored status already counts (the turn's total and
        each sub-agent's), so totals go on from there instead of restarting at this attempt.
        Model calls the stored status or the checkpoint already hold are not counted again."""
        self._items.seed_usage(stored)

    # -- approval ---------------------------------------------------------------------------

    @property
    def items(self) -> StatusItems:
        """The status as items: where interrupts surfaced, which calls wait (approvals)."""
        return self._items

    def awaiting_approval(self) -> None:
        """Every gated call is marked; the turn waits for a person, its phase says so."""
        self._texts.finish_streaming()
        self._items.set_phase(ExecutionPhase.EXECUTION_AWAITING_APPROVAL)

    # -- the stream -----------------------------------------------------------------------

    def handle(self, namespace: Sequence[str], mode: str, payload: Any) -> bool:
        """Apply one stream item; True when it deserves an immediate flush."""
        return self._router.handle(namespace, mode, payload)

    # -- out ------------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return self._changes.pending

    def take_delta(self) -> Delta | None:
        return take_delta(self._items, self._changes, self._texts)

    def commit(self, delta: Delta) -> None:
        self._changes.acknowledge(delta)

    def take_preview(self) -> StatusPreview | None:
        """Streamed AI text (main agent and sub-agents) not yet sent nor previewed, redacted."""
        return self._texts.take_preview(self._items.message_of)

    def final_status(self) -> AgentExecutionStatus:
        final = AgentExecutionStatus()
        final.CopyFrom(self._items.status)
        return final
