"""subscribe and updateStatus: every sequence number exactly once, even while racing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import pytest

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, TodoStatus
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionId,
    AgentExecutionStatusUpdate,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    Todo,
)
from stigmer_status import apply_event

if TYPE_CHECKING:
    from conftest import Api, Builders

pytestmark = pytest.mark.integration
P = ExecutionPhase


async def _pending_execution(api: Api, make: Builders) -> str:
    """An execution nobody runs (no runner polls this module's queue): only the test writes."""
    _, session_id = await api.new_session(make)
    created = await api.call(api.executions.create, make.execution("wait", session_id=session_id))
    return str(created.metadata.id)


async def _collect(api: Api, execution_id: str, after: int = 0) -> list[AgentExecutionEvent]:
    request = SubscribeAgentExecutionRequest(execution_id=execution_id, after_sequence=after)
    return [
        event
        async for event in api.executions_q.subscribe(request, metadata=api.metadata, timeout=60)
    ]


def _update(
    execution_id: str, status: AgentExecutionStatus, attempt: int = 0, number: int = 0
) -> AgentExecutionStatusUpdate:
    return AgentExecutionStatusUpdate(
        execution_id=execution_id, status=status, attempt=attempt, attempt_sequence=number
    )


async def test_watchers_joining_during_a_burst_see_every_sequence_once(
    api: Api, make: Builders
) -> None:
    execution_id = await _pending_execution(api, make)
    chunks = [f"w{i} " for i in range(150)]

    watchers: list[asyncio.Task[list[AgentExecutionEvent]]] = []

    async def write() -> None:
        await api.call(
            api.executions.updateStatus,
            _update(execution_id, AgentExecutionStatus(phase=P.EXECUTION_IN_PROGRESS)),
        )
        for index, chunk in enumerate(chunks):
            if index % 20 == 0:
                # A new watcher subscribes while the writes go on, racing them.
                watchers.append(asyncio.create_task(_collect(api, execution_id)))
            delta = AgentExecutionStatus(
                messages=[AgentMessage(id="m1", content=chunk, append=True)]
            )
            if index % 25 == 0:
                delta.todos[f"todo-{index}"].CopyFrom(
                    Todo(id=f"todo-{index}", content="t", status=TodoStatus.TODO_PENDING)
                )
            await api.call(api.executions.updateStatus, _update(execution_id, delta))
        await api.call(
            api.executions.updateStatus,
            _update(execution_id, AgentExecutionStatus(phase=P.EXECUTION_COMPLETED)),
        )

    await write()
    results = await asyncio.gather(*watchers)

    joined_at = {events[0].sequence for events in results}
    assert len(joined_at) > 1, "watchers joined at different points of the burst"
    final: AgentExecution = await api.call(
        api.executions_q.get, AgentExecutionId(value=execution_id)
    )
    assert final.status.sequence == 1 + 1 + len(chunks) + 1
    assert final.status.messages[0].content == "".join(chunks)
    for events in results:
        assert events[0].WhichOneof("payload") == "snapshot"
        sequences = [event.sequence for event in events]
        assert sequences == list(range(sequences[0], final.status.sequence + 1)), (
            "no gap, no repeat"
        )
        assert all(event.WhichOneof("payload") == "delta" for event in events[1:])
        copy = None
        for event in events:
            copy = apply_event(copy, event)
        assert copy is not None
        assert copy.status == final.status, "a watcher's copy converges on the stored status"


async def test_resume_after_a_sequence_and_final_streams(api: Api, make: Builders) -> None:
    execution_id = await _pending_execution(api, make)
    for text in ("a", "b", "c"):
        await api.call(
            api.executions.updateStatus,
            _update(
                execution_id,
                AgentExecutionStatus(messages=[AgentMessage(id="m", content=text, append=True)]),
            ),
        )
    watcher = asyncio.create_task(_collect(api, execution_id, after=4))
    await asyncio.sleep(0.3)
    await api.call(
        api.executions.updateStatus,
        _update(execution_id, AgentExecutionStatus(phase=P.EXECUTION_FAILED, error="boom")),
    )
    resumed = await watcher
    assert [(e.sequence, e.WhichOneof("payload")) for e in resumed] == [(5, "delta")]
    assert resumed[0].delta.error == "boom"

    # An execution already final: one snapshot, then the stream ends.
    done = await _collect(api, execution_id)
    assert [(e.sequence, e.WhichOneof("payload")) for e in done] == [(5, "snapshot")]
    assert done[0].snapshot.status.messages[0].content == "abc"
    # Nothing newer than what the client has: nothing to send.
    assert await _collect(api, execution_id, after=5) == []


async def test_an_attempt_writes_each_update_once_and_an_older_attempt_is_refused(
    api: Api, make: Builders, stored_rows: Callable[[], list[tuple[str, bytes]]]
) -> None:
    execution_id = await _pending_execution(api, make)
    hello = AgentExecutionStatus(messages=[AgentMessage(id="m", content="hi", append=True)])
    first = await api.call(api.executions.updateStatus, _update(execution_id, hello, 1001, 1))
    retried = await api.call(api.executions.updateStatus, _update(execution_id, hello, 1001, 1))
    assert (first.applied, first.sequence) == (True, 2)
    assert (retried.applied, retried.sequence) == (True, 2), "acknowledged, not applied again"
    newer = await api.call(api.executions.updateStatus, _update(execution_id, hello, 1002, 1))
    assert (newer.applied, newer.sequence) == (True, 3)
    before = stored_rows()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.call(api.executions.updateStatus, _update(execution_id, hello, 1001, 2))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "attempt 1001" in (refused.value.details() or "")
    assert "superseded by attempt 1002" in (refused.value.details() or "")
    assert stored_rows() == before, "a refused update writes nothing"
    stored = await api.call(api.executions_q.get, AgentExecutionId(value=execution_id))
    assert stored.status.messages[0].content == "hihi"
    assert stored.status.sequence == 3


async def test_bad_writer_numbers_are_refused(api: Api, make: Builders) -> None:
    execution_id = await _pending_execution(api, make)
    cases = [
        (_update(execution_id, AgentExecutionStatus(sequence=4)), "status.sequence"),
        (_update(execution_id, AgentExecutionStatus(), 0, 3), "attempt"),
        (_update(execution_id, AgentExecutionStatus(), 1001, 0), "attempt_sequence"),
    ]
    for update, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.call(api.executions.updateStatus, update)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (refused.value.details() or "").startswith(field)


async def test_the_phase_never_leaves_a_final_phase(api: Api, make: Builders) -> None:
    execution_id = await _pending_execution(api, make)
    await api.call(
        api.executions.updateStatus,
        _update(execution_id, AgentExecutionStatus(phase=P.EXECUTION_COMPLETED), 1001, 1),
    )
    late = await api.call(
        api.executions.updateStatus,
        _update(
            execution_id,
            AgentExecutionStatus(phase=P.EXECUTION_IN_PROGRESS, error="late"),
            1001,
            2,
        ),
    )
    assert late.applied
    stored = await api.call(api.executions_q.get, AgentExecutionId(value=execution_id))
    assert stored.status.phase == P.EXECUTION_COMPLETED
    assert stored.status.error == "late"
    assert stored.status.HasField("completed_at")
