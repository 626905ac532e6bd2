"""A delta from the items marked since the server's last acknowledgement.

Marked items go out whole (an upsert by id or key), except a message's `content`, which is
only the text the server does not hold yet (`append=true` when it holds some), up to what
may leave while the message streams. A sub-agent's new messages and tool calls travel inside
a `SubAgentExecution` that carries its id; the turn's own fields only when they changed.
"""

from __future__ import annotations

from typing import Any

from agent_runner.status._changes import ChangeSet, Delta, Key
from agent_runner.status._items import StatusItems
from agent_runner.status._text import MessageTexts
from agent_runner.status._usage import MAIN
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    SubAgentExecution,
)

_SUB_FIELDS = ("name", "input", "phase", "result", "error", "started_at", "completed_at", "usage")
_OPTIONAL_SUB = frozenset({"phase", "error", "started_at", "completed_at", "usage"})


def take_delta(items: StatusItems, changes: ChangeSet, texts: MessageTexts) -> Delta | None:
    if not changes.pending:
        return None
    versions = changes.snapshot()
    delta = AgentExecutionStatus()
    sent: dict[Key, int] = {}
    subs: dict[str, SubAgentExecution] = {}

    def container(scope: str) -> AgentExecutionStatus | SubAgentExecution:
        if scope == MAIN:
            return delta
        if scope not in subs:
            subs[scope] = delta.sub_agent_executions.add(id=scope)
        return subs[scope]

    for key in versions:
        kind, scope, item = key
        if kind == "field":
            _copy_field(items.status, delta, item)
        elif kind == "todo":
            delta.todos[item].CopyFrom(items.status.todos[item])
        elif kind == "tool":
            container(scope).tool_calls.append(items.tools[(scope, item)])
        elif kind == "sub":
            sub = container(scope)
            stored: Any = items.subs[scope]
            for name in _SUB_FIELDS:
                if name not in _OPTIONAL_SUB or stored.HasField(name):
                    _copy_field(stored, sub, name)
        elif kind == "msg":
            out = container(scope).messages.add()
            out.CopyFrom(items.messages[(scope, item)])
            sent[key] = _text_piece(key, out, changes, texts)
    return Delta(status=delta, versions=versions, sent=sent)


def _text_piece(key: Key, out: AgentMessage, changes: ChangeSet, texts: MessageTexts) -> int:
    piece = changes.text_slice(key, out.content, texts.releasable(key, out.content))
    out.content = piece.content
    out.append = piece.append
    return piece.end


def _copy_field(source: Any, target: Any, name: str) -> None:
    value = getattr(source, name)
    if hasattr(value, "CopyFrom"):
        getattr(target, name).CopyFrom(value)
    else:
        setattr(target, name, value)
