"""The runner killed at the moment random kills hit now and then: a step's task has saved its
result (a pending write) but the graph has not yet saved its next checkpoint. The turn must
go on from there on another runner: the remaining commands run and the script's final
answer is stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from chaos_api import ChaosApi, write_script
from chaos_checkpoints import kill_between_result_and_checkpoint
from chaos_cluster import RunnerPool
from chaos_figures import Figures
from chaos_kill_turn import MAIN, SUB, runs
from chaos_scale import SCALE
from chaos_temporal import FileTemporal
from chaos_turns import agent_stack_ready, turn_owner

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


@pytest.mark.timeout(SCALE.timeout(short=240, full=240))
async def test_kill_between_a_result_and_the_next_checkpoint(
    api: ChaosApi,
    runners: RunnerPool,
    file_temporal: FileTemporal,
    figures: Figures,
    tmp_path: Path,
) -> None:
    for runner in await runners.ensure(2):
        await agent_stack_ready(runner)
    session = await api.session(write_script(tmp_path, "kill-window", MAIN, SUB))
    sandbox = runners.data_dir / "sandboxes" / f"local-{session.metadata.id}"
    execution_id = await api.start(session, "Kill me between a result and a checkpoint.")
    owner = await turn_owner(file_temporal.address, runners, execution_id)
    killed_at, missed = await asyncio.to_thread(
        kill_between_result_and_checkpoint,
        runners.data_dir / "checkpoints.sqlite",
        execution_id,
        owner.pid,
        armed=lambda: "step-1" in runs(sandbox),
        within=120,
    )
    if killed_at is None:
        pytest.fail(f"no step's result was caught before its next checkpoint ({missed} missed)")
    await runners.kill(owner)
    final = await api.wait_final(execution_id, within=120, context=runners.logs)
    status = final.status
    calls = [c.status for c in status.tool_calls]
    last = status.messages[-1].content if status.messages else ""
    figures.add(
        f"kill-before-checkpoint: killed with a step's result saved and the next checkpoint "
        f"not ({missed} stops missed the moment), ended {ExecutionPhase.Name(status.phase)} "
        f"with {len(calls)}/4 calls, commands run {runs(sandbox)}, last message {last!r}"
    )
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    assert calls == [ToolCallStatus.TOOL_CALL_COMPLETED] * 4, "the turn was cut short"
    assert last == "all steps done"
    assert runs(sandbox) == ["step-1", "sub-1", "step-2", "step-3"]
