"""What replicas tell each other through PostgreSQL NOTIFY travels in clear, so it must never
hold a secret: notices carry status changes and previews, whose schema has no environment
value anywhere, and never a snapshot (the turn's spec, with its runtime env)."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from stigmer_server.execution._notices import Notice, decode_notice, encode_notice

_ENV_VALUE = EnvironmentValue.DESCRIPTOR.full_name


def _reachable(descriptor: Descriptor, seen: set[str]) -> set[str]:
    """Full names of every message type a message of `descriptor` may contain."""
    if descriptor.full_name in seen:
        return seen
    seen.add(descriptor.full_name)
    for field in descriptor.fields:
        if field.message_type is not None:
            _reachable(field.message_type, seen)
    return seen


def test_what_a_notice_carries_can_hold_no_environment_value() -> None:
    fields = AgentExecutionEvent.DESCRIPTOR.fields_by_name
    for name in ("delta", "preview"):
        assert _ENV_VALUE not in _reachable(_message(fields[name].message_type), set()), name
    # The check would see one: the snapshot's spec has the runtime env.
    assert _ENV_VALUE in _reachable(_message(fields["snapshot"].message_type), set())


def _message(descriptor: Descriptor | None) -> Descriptor:
    assert descriptor is not None
    return descriptor


def test_a_snapshot_is_never_encoded_and_a_change_round_trips() -> None:
    snapshot = AgentExecution()
    snapshot.spec.runtime_env["TOKEN"].CopyFrom(EnvironmentValue(value="s3cret", is_secret=True))
    with pytest.raises(ValueError, match="a snapshot is never broadcast"):
        encode_notice(Notice("r1", "aex-1", 1, AgentExecutionEvent(sequence=3, snapshot=snapshot)))
    change = AgentExecutionEvent(
        sequence=4, delta=AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_IN_PROGRESS)
    )
    notice = Notice("r1", "aex-1", 1001, change)
    assert decode_notice(encode_notice(notice)) == notice
