"""The execution workflow on the real Temporal dev server, with a test-only runner worker."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.worker import Replayer

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    ListAgentExecutionsBySessionRequest,
    ToolCallDecision,
    ToolCallDecisions,
)
from stigmer_contracts import TurnOutcome, data_converter
from stigmer_server.execution import workflow_sandbox
from stigmer_server.workflows import InvokeAgentExecutionWorkflow
from stigmer_testing import eventually_async

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from conftest import Api, Builders, RunnerDouble, RunnerFor

    from stigmer_testing._server import StigmerServer, StigmerServerFactory

    Connect = Callable[[StigmerServer], AbstractAsyncContextManager[Api]]

pytestmark = pytest.mark.integration
P = ExecutionPhase


async def _until(condition: object, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_successful_turn_persists_the_final_status(
    api: Api, make: Builders, runner: RunnerDouble, temporal_client: Client
) -> None:
    _, session_id = await api.new_session(make)
    created = await api.call(api.executions.create, make.execution("ok go", session_id=session_id))
    final = await api.wait_phase(created.metadata.id, P.EXECUTION_COMPLETED)
    assert [m.content for m in final.status.messages] == ["done"]
    assert final.status.HasField("started_at")
    assert final.status.HasField("completed_at")
    # create (1), the runner's IN_PROGRESS update (2), the workflow's settlement (3)
    assert final.status.sequence == 3
    handle = temporal_client.get_workflow_handle(created.metadata.id, result_type=TurnOutcome)
    assert await handle.result() == TurnOutcome(phase=P.EXECUTION_COMPLETED)


async def test_activity_failure_is_persisted_as_failed_with_the_error(
    api: Api, make: Builders, runner: RunnerDouble, temporal_client: Client
) -> None:
    _, session_id = await api.new_session(make)
    created = await api.call(
        api.executions.create, make.execution("fail now", session_id=session_id)
    )
    final = await api.wait_phase(created.metadata.id, P.EXECUTION_FAILED)
    assert "the model rejected the request" in final.status.error
    assert "ExecuteGraphton" in final.status.error
    handle = temporal_client.get_workflow_handle(created.metadata.id)
    # The FAILED status is settled by an activity before the workflow itself fails, so the
    # run's own end is awaited rather than described at once.
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), timeout=60)
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED


async def test_the_outcome_is_settled_when_the_runner_never_reports(
    api: Api, make: Builders, runner: RunnerDouble
) -> None:
    agent = await api.call(api.agents.create, make.agent())
    created = await api.call(
        api.executions.create, make.execution("silent run", agent_id=agent.metadata.id)
    )
    final = await api.wait_phase(created.metadata.id, P.EXECUTION_COMPLETED)
    assert final.status.HasField("completed_at")
    assert final.status.sequence == 2, "create, then only the workflow's own settlement"


async def test_cancel_stops_the_activity_and_ends_cancelled(
    api: Api, make: Builders, runner: RunnerDouble, temporal_client: Client
) -> None:
    _, session_id = await api.new_session(make)
    created = await api.call(
        api.executions.create, make.execution("block forever", session_id=session_id)
    )
    execution_id = created.metadata.id
    await _until(lambda: runner.saw("start", execution_id))
    cancelled = await api.call(api.executions.cancel, AgentExecutionId(value=execution_id))
    assert cancelled.status.phase == P.EXECUTION_CANCELLED
    await _until(lambda: runner.saw("cancelled", execution_id))
    handle = temporal_client.get_workflow_handle(execution_id)
    await _until_async_status(handle, WorkflowExecutionStatus.CANCELED)
    stored = await api.call(api.executions_q.get, AgentExecutionId(value=execution_id))
    assert stored.status.phase == P.EXECUTION_CANCELLED
    # The workflow settled the cancellation too, which the cancel had already stored: the
    # same ending written again is no new numbered change.
    assert stored.status.sequence == cancelled.status.sequence
    again = await api.call(api.executions.cancel, AgentExecutionId(value=execution_id))
    assert again.status.sequence == stored.status.sequence, (
        "cancelling a final execution changes nothing"
    )


async def _until_async_status(
    handle: object, status: WorkflowExecutionStatus, within: float = 30
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    seen = None
    while asyncio.get_running_loop().time() < deadline:
        seen = (await handle.describe()).status  # type: ignore[attr-defined]
        if seen == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"workflow never reached {status} in {within} s (last seen {seen})")


async def test_the_next_turn_starts_only_once_the_cancelled_one_has_stopped(
    api: Api, make: Builders, runner: RunnerDouble
) -> None:
    """Cancel answers at once, but the session stays held until the runner has stopped the
    cancelled turn (its commands killed): the next turn never overlaps with it."""
    _, session_id = await api.new_session(make)
    first = await api.call(
        api.executions.create, make.execution("slowstop one", session_id=session_id)
    )
    second = await api.call(api.executions.create, make.execution("ok two", session_id=session_id))
    await _until(lambda: runner.saw("start", first.metadata.id))
    cancelled = await api.call(api.executions.cancel, AgentExecutionId(value=first.metadata.id))
    assert cancelled.status.phase == P.EXECUTION_CANCELLED
    await api.wait_phase(second.metadata.id, P.EXECUTION_COMPLETED)
    timeline = runner.timeline
    assert timeline.index(("end", first.metadata.id)) < timeline.index(
        ("start", second.metadata.id)
    ), timeline


async def test_second_turn_in_a_session_waits_for_the_first(
    api: Api, make: Builders, runner: RunnerDouble
) -> None:
    runner.release.clear()
    _, session_id = await api.new_session(make)
    first = await api.call(api.executions.create, make.execution("gate one", session_id=session_id))
    second = await api.call(api.executions.create, make.execution("ok two", session_id=session_id))
    await _until(lambda: runner.saw("start", first.metadata.id))
    await asyncio.sleep(1.5)  # time enough for the second turn to start if it did not wait
    assert not runner.saw("start", second.metadata.id)
    waiting = await api.call(api.executions_q.get, AgentExecutionId(value=second.metadata.id))
    assert waiting.status.phase == P.EXECUTION_PENDING
    runner.release.set()
    await api.wait_phase(first.metadata.id, P.EXECUTION_COMPLETED)
    await api.wait_phase(second.metadata.id, P.EXECUTION_COMPLETED)
    timeline = runner.timeline
    assert timeline.index(("end", first.metadata.id)) < timeline.index(
        ("start", second.metadata.id)
    )


async def test_cancelling_a_waiting_turn_ends_it_without_running(
    api: Api, make: Builders, runner: RunnerDouble
) -> None:
    runner.release.clear()
    _, session_id = await api.new_session(make)
    first = await api.call(api.executions.create, make.execution("gate one", session_id=session_id))
    second = await api.call(api.executions.create, make.execution("ok two", session_id=session_id))
    await _until(lambda: runner.saw("start", first.metadata.id))
    cancelled = await api.call(api.executions.cancel, AgentExecutionId(value=second.metadata.id))
    assert cancelled.status.phase == P.EXECUTION_CANCELLED
    runner.release.set()
    await api.wait_phase(first.metadata.id, P.EXECUTION_COMPLETED)
    await asyncio.sleep(1)
    assert not runner.saw("start", second.metadata.id)


async def test_reject_policy_refuses_a_second_running_turn(
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
) -> None:
    async with (
        stigmer_server_factory(env={"STIGMER_SESSION_POLICY": "reject"}) as server,
        connect_api(server) as api,
        runner_for(server, api) as double,
    ):
        _, session_id = await api.new_session(make)
        first = await api.call(
            api.executions.create, make.execution("gate one", session_id=session_id)
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.call(api.executions.create, make.execution("ok two", session_id=session_id))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert first.metadata.id in (refused.value.details() or "")
        listed = await api.call(
            api.executions_q.listBySession,
            ListAgentExecutionsBySessionRequest(session_id=session_id),
        )
        assert [e.metadata.id for e in listed.items] == [first.metadata.id]
        double.release.set()
        await api.wait_phase(first.metadata.id, P.EXECUTION_COMPLETED)
        third = await api.call(
            api.executions.create, make.execution("ok three", session_id=session_id)
        )
        await api.wait_phase(third.metadata.id, P.EXECUTION_COMPLETED)


async def test_unreachable_temporal_fails_the_call_and_records_failed(
    stigmer_server_factory: StigmerServerFactory, connect_api: Connect, make: Builders
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    async with (
        stigmer_server_factory(env={"TEMPORAL_HOST_PORT": dead}) as server,
        connect_api(server) as api,
    ):
        _, session_id = await api.new_session(make)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.call(api.executions.create, make.execution("ok", session_id=session_id))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert dead in (refused.value.details() or "")
        listed = await api.call(
            api.executions_q.listBySession,
            ListAgentExecutionsBySessionRequest(session_id=session_id),
        )
        assert len(listed.items) == 1
        assert listed.items[0].status.phase == P.EXECUTION_FAILED
        assert "unreachable" in listed.items[0].status.error


async def test_recorded_histories_replay_without_nondeterminism(
    api: Api, make: Builders, runner: RunnerDouble, temporal_client: Client
) -> None:
    """Replaying real histories (completed, failed, cancelled) through today's workflow code."""
    agent = await api.call(api.agents.create, make.agent())
    ids = []
    for message, phase in (
        ("ok replay", P.EXECUTION_COMPLETED),
        ("fail replay", P.EXECUTION_FAILED),
    ):
        created = await api.call(
            api.executions.create, make.execution(message, agent_id=agent.metadata.id)
        )
        await api.wait_phase(created.metadata.id, phase)
        ids.append(created.metadata.id)
    blocked = await api.call(
        api.executions.create, make.execution("block replay", agent_id=agent.metadata.id)
    )
    await _until(lambda: runner.saw("start", blocked.metadata.id))
    await api.call(api.executions.cancel, AgentExecutionId(value=blocked.metadata.id))
    await _until_async_status(
        temporal_client.get_workflow_handle(blocked.metadata.id), WorkflowExecutionStatus.CANCELED
    )
    ids.append(blocked.metadata.id)
    replayer = Replayer(
        workflows=[InvokeAgentExecutionWorkflow],
        workflow_runner=workflow_sandbox(),
        data_converter=data_converter(),
    )
    for execution_id in ids:
        handle = temporal_client.get_workflow_handle(execution_id)
        await _until_async_status(
            handle, (await handle.describe()).status or WorkflowExecutionStatus.RUNNING
        )
        history = await handle.fetch_history()
        await replayer.replay_workflow(history)


async def test_a_decision_that_arrives_before_the_runs_outcome_waits_for_it(
    api: Api, make: Builders, runner: RunnerDouble, temporal_client: Client
) -> None:
    _, session_id = await api.new_session(make)
    created = await api.call(
        api.executions.create, make.execution("approve this", session_id=session_id)
    )
    execution_id = created.metadata.id
    await api.wait_phase(execution_id, P.EXECUTION_AWAITING_APPROVAL)
    # The status says "waiting" while ExecuteGraphton has not returned yet: the decision is
    # accepted and applied once the run's outcome says what waits.
    decision = ToolCallDecisions(
        execution_id=execution_id,
        decisions=[
            ToolCallDecision(
                tool_call_id="call-1",
                type=ApprovalDecisionType.APPROVAL_DECISION_REJECT,
                message="not today",
            )
        ],
    )
    deciding = asyncio.create_task(api.call(api.executions.decide, decision))
    handle = temporal_client.get_workflow_handle(execution_id)
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED

    async def update_accepted() -> bool:
        history = await handle.fetch_history()
        return any(event.event_type == accepted for event in history.events)

    await eventually_async(
        update_accepted, timeout=30, message="the Update to be accepted while the run is open"
    )
    assert not runner.saw("end", execution_id), "the run ended before the decision arrived"
    runner.approval_release.set()
    decided = await asyncio.wait_for(deciding, timeout=60)
    [call] = decided.status.tool_calls
    assert call.approval.decision == ApprovalDecisionType.APPROVAL_DECISION_REJECT
    assert call.approval.message == "not today"
    assert call.approval.decided_by
    final = await api.wait_phase(execution_id, P.EXECUTION_COMPLETED)
    assert final.status.tool_calls[0].approval.decided_at == call.approval.decided_at
    [resumed] = runner.decisions[execution_id]
    assert (resumed.tool_call_id, resumed.interrupt_id, resumed.position) == ("call-1", "i" * 32, 0)
    assert (resumed.type, resumed.message) == (
        ApprovalDecisionType.APPROVAL_DECISION_REJECT,
        "not today",
    )
    # The turn ended: a late decision is refused, naming the execution.
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await api.call(api.executions.decide, decision)
    assert late.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "execution_id" in (late.value.details() or "")
    # The history (two rounds, an Update, its recording) replays through today's code.
    await handle.result()
    replayer = Replayer(
        workflows=[InvokeAgentExecutionWorkflow],
        workflow_runner=workflow_sandbox(),
        data_converter=data_converter(),
    )
    await replayer.replay_workflow(await handle.fetch_history())
