"""The real server pointed at PostgreSQL: resources and a whole turn, end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionId,
    AgentExecutionStatusUpdate,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from stigmer_status import apply_event

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from conftest import Api, Builders, RunnerFor

    from stigmer_testing._server import StigmerServer, StigmerServerFactory

    Connect = Callable[[StigmerServer], AbstractAsyncContextManager[Api]]

pytestmark = pytest.mark.integration


async def test_server_on_postgresql_runs_a_turn(
    postgres_url: str,
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
) -> None:
    async with (
        stigmer_server_factory(env={"STIGMER_DB_URL": postgres_url}) as server,
        connect_api(server) as api,
        runner_for(server, api),
    ):
        assert server.db_url == postgres_url
        agent = await api.call(api.agents.create, make.agent())
        assert (await api.call(api.agents_q.get, AgentId(value=agent.metadata.id))) == agent
        created = await api.call(
            api.executions.create, make.execution("ok pg", agent_id=agent.metadata.id)
        )
        final = await api.wait_phase(created.metadata.id, ExecutionPhase.EXECUTION_COMPLETED)
        assert [m.content for m in final.status.messages] == ["done"]
        assert "database ready (postgresql" in server.log()


async def test_a_watcher_on_another_server_sees_every_change(
    postgres_url: str,
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    make: Builders,
) -> None:
    """Two servers on one database: changes written through one reach watchers of the other.

    Nothing is published across processes, so the watcher's server notices through its
    periodic re-read and sends snapshots; the copy still ends equal to the stored status.
    """
    async with (
        stigmer_server_factory(env={"STIGMER_DB_URL": postgres_url}) as writer_server,
        stigmer_server_factory(env={"STIGMER_DB_URL": postgres_url}) as watcher_server,
        connect_api(writer_server) as writer,
        connect_api(watcher_server) as watcher,
    ):
        _, session_id = await writer.new_session(make)
        created = await writer.call(
            writer.executions.create, make.execution("wait", session_id=session_id)
        )
        execution_id = created.metadata.id
        request = SubscribeAgentExecutionRequest(execution_id=execution_id)
        events: list[AgentExecutionEvent] = []

        async def watch() -> None:
            async for event in watcher.executions_q.subscribe(
                request, metadata=watcher.metadata, timeout=60
            ):
                events.append(event)

        task = asyncio.create_task(watch())
        for text in ("one ", "two "):
            delta = AgentExecutionStatus(messages=[AgentMessage(id="m", content=text, append=True)])
            await writer.call(
                writer.executions.updateStatus,
                AgentExecutionStatusUpdate(execution_id=execution_id, status=delta),
            )
        await writer.call(
            writer.executions.updateStatus,
            AgentExecutionStatusUpdate(
                execution_id=execution_id,
                status=AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_COMPLETED),
            ),
        )
        await asyncio.wait_for(task, timeout=30)
        stored = await watcher.call(watcher.executions_q.get, AgentExecutionId(value=execution_id))
        copy = None
        for event in events:
            copy = apply_event(copy, event)
        assert copy is not None
        assert copy.status == stored.status
        assert events[-1].sequence == stored.status.sequence == 4
        assert [e.sequence for e in events] == sorted({e.sequence for e in events}), (
            "increasing, no repeat"
        )
