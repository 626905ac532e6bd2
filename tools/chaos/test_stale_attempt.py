"""Two attempts of one turn writing its status at once (what a runner that lost its
activity to a heartbeat timeout does next to its successor): once the newer attempt has
written, the server refuses every update of the older one.

Driven at the gRPC level on a server no runner serves, so only the two writers write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from chaos_api import ChaosApi
from chaos_cluster import ChaosServer
from chaos_figures import Figures
from chaos_scale import SCALE
from chaos_temporal import FileTemporal

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

UPDATES = 200 if SCALE.full else 60


@dataclass
class Writer:
    attempt: int
    applied: list[int] = field(default_factory=list)  # stored sequences of applied updates
    refused: int = 0


@pytest.fixture
async def idle_server(
    file_temporal: FileTemporal, tmp_path: Path
) -> AsyncIterator[tuple[ChaosServer, ChaosApi]]:
    server = ChaosServer(file_temporal.address, tmp_path / "idle-server")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(server.current.address) as channel:
            yield server, ChaosApi(channel, server.api_key)
    finally:
        await server.stop()


@pytest.mark.timeout(SCALE.timeout(short=60, full=120))
async def test_two_attempts_writing_at_once(
    idle_server: tuple[ChaosServer, ChaosApi], figures: Figures
) -> None:
    _, api = idle_server
    execution_id = await api.start(await api.session("scripted:demo"))
    old, new = Writer(attempt=1), Writer(attempt=2)

    async def write(writer: Writer, started: asyncio.Event | None) -> None:
        for number in range(1, UPDATES + 1):
            delta = AgentExecutionStatus(
                messages=[
                    AgentMessage(id=f"attempt-{writer.attempt}", content=f"{number} ", append=True)
                ]
            )
            if number == 1:
                delta.phase = ExecutionPhase.EXECUTION_IN_PROGRESS
            try:
                result = await api.update_status(
                    execution_id, delta, attempt=writer.attempt, number=number
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
                writer.refused += 1
                continue
            writer.applied.append(result.sequence)
            if started is not None and number == UPDATES // 4:
                started.set()

    # The old attempt writes alone for a while, then both write at once.
    old_started = asyncio.Event()
    old_task = asyncio.create_task(write(old, old_started))
    await asyncio.wait_for(old_started.wait(), timeout=30)
    await asyncio.gather(old_task, write(new, None))
    stored = (await api.get(execution_id)).status
    await api.cancel(execution_id)

    first_new = min(new.applied)
    late = [sequence for sequence in old.applied if sequence > first_new]
    old_text = next(m.content for m in stored.messages if m.id == "attempt-1")
    new_text = next(m.content for m in stored.messages if m.id == "attempt-2")
    figures.add(
        f"stale-attempt: attempt 1 had {len(old.applied)} updates applied before attempt 2's "
        f"first and {len(late)} after, {old.refused} refused; attempt 2 {len(new.applied)}/"
        f"{UPDATES} applied"
    )
    assert not late, f"attempt 1 wrote after attempt 2: sequences {late}"
    assert len(new.applied) == UPDATES
    assert new.refused == 0
    assert old.refused == UPDATES - len(old.applied)
    assert new_text == "".join(f"{n} " for n in range(1, UPDATES + 1))
    assert old_text == "".join(f"{n} " for n in range(1, len(old.applied) + 1))
