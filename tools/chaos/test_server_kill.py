"""Server kill -9 while a turn streams: the runner's updates wait for the server to come
back, no final status is lost, and a watcher resuming with `after_sequence` misses nothing
(its copy, built from events alone, equals the stored execution)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path

import pytest
from chaos_api import ChaosApi, execute, text, write_script
from chaos_cluster import ChaosServer, RunnerPool
from chaos_figures import Figures
from chaos_scale import SCALE
from chaos_watcher import Watcher

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_testing import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


@pytest.mark.timeout(SCALE.timeout(short=120, full=300))
async def test_server_kill_mid_stream(
    api: ChaosApi,
    chaos_server: ChaosServer,
    runners: RunnerPool,
    figures: Figures,
    tmp_path: Path,
) -> None:
    rng = random.SystemRandom()
    steps = SCALE.server_kills + 2
    # Each command waits for its gate file: the test opens one gate per kill, so every kill
    # lands mid-stream, with the turn's later steps still to come, however fast it runs.
    replies = [
        execute(f"while [ ! -e gate-{i} ]; do sleep 0.1; done; echo step {i}") for i in range(steps)
    ]
    model = write_script(tmp_path, "server-kill", [*replies, text("finished through the kills")])
    session = await api.session(model)
    gates = runners.data_dir / "sandboxes" / f"local-{session.metadata.id}"
    execution_id = await api.start(session)
    watcher = Watcher(api, execution_id)
    watching = asyncio.create_task(watcher.run())
    restarts: list[float] = []
    try:
        for kill in range(SCALE.server_kills):
            # Mid-stream: the watcher has just seen a change of this server's lifetime.
            watcher.changed.clear()
            await _open_gate(gates, kill)
            await eventually_async(
                watcher.changed.is_set,
                timeout=90,
                message=lambda: "the watcher to see a change\n" + runners.logs(),
            )
            await asyncio.sleep(rng.uniform(0, 0.5))
            killed = time.monotonic()
            await chaos_server.kill()
            await chaos_server.start()
            restarts.append(time.monotonic() - killed)
        for rest in range(SCALE.server_kills, steps):
            await _open_gate(gates, rest)
        final = await api.wait_final(execution_id, within=120, context=runners.logs)
        copy = await asyncio.wait_for(watching, timeout=60)
    finally:
        watching.cancel()
    status = final.status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, (status.error, runners.logs())
    assert [c.status for c in status.tool_calls] == [ToolCallStatus.TOOL_CALL_COMPLETED] * steps
    assert status.messages[-1].content == "finished through the kills"
    # A write after the final phase (the workflow settling a turn already final) is stored
    # but never streamed: the stream ends at the final phase. Compare everything else.
    after_final = status.sequence - copy.status.sequence
    same = AgentExecutionStatus()
    same.CopyFrom(copy.status)
    same.sequence = status.sequence
    figures.add(
        f"server-kill: {SCALE.server_kills} kills, final status COMPLETED and whole "
        f"(sequence {status.sequence}), watcher resumed {watcher.resumes}x and missed 0 of "
        f"{copy.status.sequence} changes up to the final phase ({after_final} stored after "
        f"it), restart p50 {statistics.median(restarts):.1f} s max {max(restarts):.1f} s"
    )
    assert same == status, "the watcher's copy differs from the stored execution"
    # The workflow's settlement of a turn already final stores nothing new.
    assert after_final == 0


async def _open_gate(workspace: Path, step: int) -> None:
    """Let the command of `step` finish (the sandbox exists once the turn has started)."""
    await eventually_async(
        workspace.is_dir, timeout=60, message=f"the sandbox {workspace} to exist"
    )
    (workspace / f"gate-{step}").touch()
