"""The reconciler ends turns left between phases, so their session's next turn can run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionId
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_server import resources as kinds
from stigmer_server.ids import IdFactory
from stigmer_server.storage import Store

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from conftest import Api, Builders, RunnerFor

    from stigmer_testing._server import StigmerServer, StigmerServerFactory

    Connect = Callable[[StigmerServer], AbstractAsyncContextManager[Api]]

pytestmark = pytest.mark.integration
P = ExecutionPhase
FAST = {"STIGMER_RECONCILE_INTERVAL_SECONDS": "0.5", "STIGMER_RECONCILE_GRACE_SECONDS": "0"}


async def _until(condition: Callable[[], bool], what: str, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not reached in {within} s")
        await asyncio.sleep(0.05)


async def test_a_terminated_workflow_ends_its_turn_and_frees_the_session(
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
    temporal_client: Client,
) -> None:
    async with (
        stigmer_server_factory(env=FAST) as server,
        connect_api(server) as api,
        runner_for(server, api) as double,
    ):
        _, session_id = await api.new_session(make)
        first = await api.call(
            api.executions.create, make.execution("block one", session_id=session_id)
        )
        second = await api.call(
            api.executions.create, make.execution("ok two", session_id=session_id)
        )
        await _until(lambda: double.saw("start", first.metadata.id), "the first turn started")
        await temporal_client.get_workflow_handle(first.metadata.id).terminate("by hand")
        ended = await api.wait_phase(first.metadata.id, P.EXECUTION_FAILED)
        assert "terminated" in ended.status.error
        assert "without recording" in ended.status.error
        await api.wait_phase(second.metadata.id, P.EXECUTION_COMPLETED)


async def test_a_turn_whose_workflow_never_started_is_failed_and_released(
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
) -> None:
    """The server stored a turn and stopped before starting its workflow."""
    async with (
        stigmer_server_factory(env=FAST) as server,
        connect_api(server) as api,
        runner_for(server, api),
    ):
        agent_id, session_id = await api.new_session(make)
        orphan = make.execution("ok lost", session_id=session_id)
        orphan.metadata.id = IdFactory().new(kinds.AGENT_EXECUTION.id_prefix)
        orphan.metadata.slug = orphan.metadata.id
        orphan.metadata.version = 1
        orphan.metadata.created_at.GetCurrentTime()
        orphan.metadata.updated_at.GetCurrentTime()
        orphan.spec.agent_id = agent_id
        orphan.status.CopyFrom(AgentExecutionStatus(phase=P.EXECUTION_PENDING, sequence=1))
        store = await Store.open(server.db_url)
        try:
            async with store.transaction() as tx:
                await tx.insert(kinds.AGENT_EXECUTION, orphan)
        finally:
            await store.close()
        after = await api.call(
            api.executions.create, make.execution("ok next", session_id=session_id)
        )
        ended = await api.wait_phase(orphan.metadata.id, P.EXECUTION_FAILED)
        assert "never started" in ended.status.error
        await api.wait_phase(after.metadata.id, P.EXECUTION_COMPLETED)


async def test_a_running_workflow_is_left_alone(
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
    temporal_client: Client,
) -> None:
    async with (
        stigmer_server_factory(env=FAST) as server,
        connect_api(server) as api,
        runner_for(server, api) as double,
    ):
        _, session_id = await api.new_session(make)
        blocked = await api.call(
            api.executions.create, make.execution("block long", session_id=session_id)
        )
        await _until(lambda: double.saw("start", blocked.metadata.id), "the turn started")
        await asyncio.sleep(2)  # four sweeps
        still = await api.call(api.executions_q.get, AgentExecutionId(value=blocked.metadata.id))
        assert still.status.phase == P.EXECUTION_PENDING
        handle = temporal_client.get_workflow_handle(blocked.metadata.id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await api.call(api.executions.cancel, AgentExecutionId(value=blocked.metadata.id))
