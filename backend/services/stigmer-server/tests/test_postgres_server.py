"""The real server pointed at PostgreSQL: resources and a whole turn, end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionId,
    AgentExecutionPreview,
    AgentExecutionStatusUpdate,
    StatusPreview,
    SubscribeAgentExecutionRequest,
    TextPreview,
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


async def test_a_watcher_on_another_server_sees_every_change_at_once(
    postgres_url: str,
    stigmer_server_factory: StigmerServerFactory,
    connect_api: Connect,
    make: Builders,
) -> None:
    """Two servers on one database: changes and previews written through one reach the
    other's watchers through LISTEN/NOTIFY, as deltas in order, each within moments (no
    server polls the database)."""
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
        events: list[tuple[float, AgentExecutionEvent]] = []
        loop = asyncio.get_running_loop()

        async def watch() -> None:
            async for event in watcher.executions_q.subscribe(
                request, metadata=watcher.metadata, timeout=60
            ):
                events.append((loop.time(), event))

        task = asyncio.create_task(watch())
        await _until(lambda: len(events) == 1, "the watcher's snapshot")
        written: list[float] = []
        for number, text in enumerate(("one ", "two "), start=1):
            delta = AgentExecutionStatus(messages=[AgentMessage(id="m", content=text, append=True)])
            await writer.call(
                writer.executions.updateStatus,
                AgentExecutionStatusUpdate(
                    execution_id=execution_id, status=delta, attempt=1001, attempt_sequence=number
                ),
            )
            written.append(loop.time())
            await _until(_counted(events, 1 + number), f"change {number} arrived")
        preview = StatusPreview(texts=[TextPreview(message_id="m", offset=8, text="thr")])
        await writer.executions.streamPreviews(
            iter([AgentExecutionPreview(execution_id=execution_id, attempt=1001, preview=preview)]),
            metadata=writer.metadata,
            timeout=10,
        )
        await _until(lambda: len(events) == 4, "the preview arrived")
        await writer.call(
            writer.executions.updateStatus,
            AgentExecutionStatusUpdate(
                execution_id=execution_id,
                status=AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_COMPLETED),
            ),
        )
        await asyncio.wait_for(task, timeout=30)
        kinds = [(event.sequence, event.WhichOneof("payload")) for _, event in events]
        assert kinds == [
            (1, "snapshot"),
            (2, "delta"),
            (3, "delta"),
            (3, "preview"),
            (4, "delta"),
        ]
        assert events[3][1].preview == preview
        for (arrived, _), sent in zip(events[1:3], written, strict=True):
            assert arrived - sent < 2.0, "a change crossed replicas in moments, not a poll"
        stored = await watcher.call(watcher.executions_q.get, AgentExecutionId(value=execution_id))
        copy = None
        for _, event in events:
            if event.WhichOneof("payload") != "preview":  # an overlay, not a change
                copy = apply_event(copy, event)
        assert copy is not None
        assert copy.status == stored.status
        assert "listening for execution notices" in watcher_server.log()


def _counted(events: list[Any], count: int) -> Callable[[], bool]:
    return lambda: len(events) == count


async def _until(condition: Callable[[], bool], what: str, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.01)
