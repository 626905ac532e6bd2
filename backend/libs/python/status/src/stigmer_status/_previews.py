"""Previews on a client: streamed text shown after the stored content until deltas catch up.

A `preview` event carries text a runner streamed ahead of its batched status update, by
position: a `TextPreview` is shown after the stored content of its message while the stored
content's length (in code points) is within `[offset, offset + len(text))`, and is stale once
the stored content reaches its end. Previews never change the stored copy: `render` draws a
copy with the valid ones appended, and each delta that arrives drops the stale ones.
"""

from __future__ import annotations

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import MessageType
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import StatusPreview, TextPreview
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    SubAgentExecution,
)
from stigmer_status._phase import is_final

_Key = tuple[str, str]  # (sub-agent execution id, empty for the main agent; message id)


class PreviewOverlay:
    def __init__(self) -> None:
        self._texts: dict[_Key, list[TextPreview]] = {}

    def __bool__(self) -> bool:
        return bool(self._texts)

    def add(self, preview: StatusPreview) -> None:
        for text in preview.texts:
            if text.text:
                texts = self._texts.setdefault((text.sub_agent_id, text.message_id), [])
                texts.append(TextPreview(offset=text.offset, text=text.text))
                texts.sort(key=lambda t: t.offset)

    def prune(self, status: AgentExecutionStatus) -> None:
        """Drops the previews the stored content has caught up with (all, once final)."""
        if is_final(status.phase):
            self._texts.clear()
            return
        for key, texts in list(self._texts.items()):
            message = _message(status, key)
            stored = len(message.content) if message is not None else 0
            kept = [t for t in texts if t.offset + len(t.text) > stored]
            if kept:
                self._texts[key] = kept
            else:
                del self._texts[key]

    def render(self, execution: AgentExecution) -> AgentExecution:
        """A copy of `execution` with the valid previews appended to their messages."""
        view = AgentExecution()
        view.CopyFrom(execution)
        for key, texts in self._texts.items():
            message = _message(view.status, key)
            stored = len(message.content) if message is not None else 0
            more = _continuation(stored, texts)
            if not more:
                continue
            if message is None:
                # A reply the stored copy has not seen yet: its first tokens came as previews.
                message = _new_message(view.status, key)
            if message is not None:  # None: a sub-agent the stored copy does not know yet
                message.content += more
        return view


def _continuation(stored: int, texts: list[TextPreview]) -> str:
    """The previewed text from `stored` on, as far as consecutive previews reach."""
    parts = []
    end = stored
    for text in texts:
        if text.offset <= end < text.offset + len(text.text):
            parts.append(text.text[end - text.offset :])
            end = text.offset + len(text.text)
    return "".join(parts)


def _container(
    status: AgentExecutionStatus, sub_id: str
) -> AgentExecutionStatus | SubAgentExecution | None:
    if not sub_id:
        return status
    return next((sub for sub in status.sub_agent_executions if sub.id == sub_id), None)


def _message(status: AgentExecutionStatus, key: _Key) -> AgentMessage | None:
    container = _container(status, key[0])
    if container is None:
        return None
    return next((m for m in container.messages if m.id == key[1]), None)


def _new_message(status: AgentExecutionStatus, key: _Key) -> AgentMessage | None:
    container = _container(status, key[0])
    if container is None:
        return None
    namespace = container.name if isinstance(container, SubAgentExecution) else ""
    return container.messages.add(id=key[1], type=MessageType.MESSAGE_AI, namespace=namespace)
