"""A command printing hundreds of megabytes: the runner reads it with bounded memory and
keeps only the capped output in the tool result."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos_api import ChaosApi, execute, text, write_script
from chaos_cluster import RunnerPool
from chaos_figures import Figures
from chaos_procs import RssSampler, memory_kib, running_commands
from chaos_scale import SCALE
from chaos_temporal import FileTemporal
from chaos_turns import turn_owner

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_testing import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

CAP = 100_000  # SANDBOX_MAX_OUTPUT_BYTES's default
MARKER = "chaos-big-output"
MIB = 1024 * 1024


@pytest.mark.timeout(SCALE.timeout(short=150, full=300))
async def test_big_command_output(
    api: ChaosApi,
    runners: RunnerPool,
    file_temporal: FileTemporal,
    figures: Figures,
    tmp_path: Path,
) -> None:
    size = SCALE.output_mb * MIB
    command = f"sleep 0.5; yes {MARKER}-0123456789abcdefghijklmnopqrstuvwxyz | head -c {size}"
    model = write_script(tmp_path, "big-output", [execute(command), text("printed it all")])
    execution_id = await api.start(await api.session(model))
    owner = await turn_owner(file_temporal.address, runners, execution_id)
    await eventually_async(
        lambda: running_commands(MARKER),
        timeout=60,
        interval=0.02,
        message=lambda: "the big command to start\n" + runners.logs(),
    )
    rss_before = memory_kib(owner.pid, "VmRSS")
    hwm_before = memory_kib(owner.pid, "VmHWM")
    async with RssSampler(owner.pid).sampling() as sampler:
        final = await api.wait_final(execution_id, within=240, context=runners.logs)
    hwm_after = memory_kib(owner.pid, "VmHWM")
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    (call,) = final.status.tool_calls
    growth_mb = (sampler.peak_kib - rss_before) / 1024
    hwm_growth_mb = (hwm_after - hwm_before) / 1024
    figures.add(
        f"big-output: {SCALE.output_mb} MB printed, runner RSS +{growth_mb:.0f} MB (sampled "
        f"peak {sampler.peak_kib / 1024:.0f} MB over {sampler.samples} samples), VmHWM "
        f"+{hwm_growth_mb:.0f} MB, tool result {len(call.result)} characters"
    )
    assert growth_mb < 100, f"runner RSS grew {growth_mb:.0f} MB"
    assert hwm_growth_mb < 100, f"runner VmHWM grew {hwm_growth_mb:.0f} MB"
    assert MARKER in call.result
    assert len(call.result.encode()) < CAP + 1_000, "the tool result is not capped"
