"""Applying a status delta to a stored status (docs/architecture/status-model.md).

The rules are generic over the message's fields, so a field added to the proto later is
merged the same way without touching this module: a field the delta sets overwrites, a
field it leaves unset stays. Only the exceptions are spelled out: item lists upserted by
id, `append` content, todos by key, and phases that only move forward.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    SubAgentExecution,
)
from stigmer_status._fields import is_map
from stigmer_status._phase import can_move

# Repeated fields whose items are upserted by `id`, per containing message type.
_UPSERTED: Final[dict[str, frozenset[str]]] = {
    AgentExecutionStatus.DESCRIPTOR.full_name: frozenset(
        {"messages", "tool_calls", "sub_agent_executions"}
    ),
    SubAgentExecution.DESCRIPTOR.full_name: frozenset({"messages", "tool_calls"}),
}
# Fields the caller owns (the server numbers updates), never merged as data.
_SKIPPED: Final[dict[str, frozenset[str]]] = {
    AgentExecutionStatus.DESCRIPTOR.full_name: frozenset({"sequence"}),
    AgentMessage.DESCRIPTOR.full_name: frozenset({"append"}),
}


def apply_delta(stored: AgentExecutionStatus, delta: AgentExecutionStatus) -> None:
    """Merge `delta` into `stored` in place. `sequence` is left to the caller.

    A phase the rules refuse (backwards, or out of a final phase) is dropped while the rest
    of the delta still applies; `effective_delta` tells a publisher what really changed.
    """
    _merge_fields(stored, delta)


def effective_delta(
    stored: AgentExecutionStatus, delta: AgentExecutionStatus
) -> AgentExecutionStatus:
    """A copy of `delta` without what `apply_delta` would refuse against `stored`.

    Publishing this copy lets a watcher that applies it reach exactly the stored state.
    """
    result = AgentExecutionStatus()
    result.CopyFrom(delta)
    if result.HasField("phase") and not can_move(stored.phase, result.phase):
        result.ClearField("phase")
    return result


def _merge_fields(stored: Message, delta: Message) -> None:
    name = stored.DESCRIPTOR.full_name
    upserted = _UPSERTED.get(name, frozenset())
    skipped = _SKIPPED.get(name, frozenset())
    for field, value in delta.ListFields():
        if field.name in skipped:
            continue
        if field.name == "phase" and field.enum_type is not None:
            if can_move(getattr(stored, field.name), value):
                setattr(stored, field.name, value)
        elif field.name == "content" and isinstance(delta, AgentMessage) and delta.append:
            assert isinstance(stored, AgentMessage)
            stored.content += delta.content
        elif is_map(field):
            _merge_map(getattr(stored, field.name), value)
        elif field.is_repeated:
            target = getattr(stored, field.name)
            if field.name in upserted:
                _upsert_by_id(target, value)
            else:
                del target[:]
                target.extend(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(stored, field.name).CopyFrom(value)
        else:
            setattr(stored, field.name, value)


def _upsert_by_id(stored: Any, delta: Any) -> None:
    index = {item.id: item for item in stored}
    for item in delta:
        existing = index.get(item.id)
        if existing is None:
            existing = stored.add()
            existing.id = item.id
            index[item.id] = existing
        _merge_fields(existing, item)


def _merge_map(stored: Any, delta: Any) -> None:
    for key, value in delta.items():
        if isinstance(value, Message):
            _merge_fields(stored[key], value)
        else:
            stored[key] = value
