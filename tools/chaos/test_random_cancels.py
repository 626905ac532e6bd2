"""Turns cancelled at random moments, from still queued to deep in a command: each ends
CANCELLED and leaves no sandbox process behind (none with the turns' marker, nothing new
under any runner)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path

import pytest
from chaos_api import ChaosApi, execute, write_script
from chaos_cluster import RunnerPool
from chaos_figures import Figures
from chaos_procs import descendants, describe, running_commands, working_in
from chaos_scale import SCALE

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_testing import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

MARKER = "chaos-random-cancel"
# Never finishes within the cancel window: each turn continues the session's script.
REPLIES = [execute(f"sleep 0.{3 + i % 5} && echo {MARKER}-{i}") for i in range(400)]


@pytest.mark.timeout(SCALE.timeout(short=90, full=400))
async def test_random_cancels(
    api: ChaosApi, runners: RunnerPool, figures: Figures, tmp_path: Path
) -> None:
    rng = random.SystemRandom()
    session = await api.session(write_script(tmp_path, "random-cancel", REPLIES))
    runner_pids = [r.pid for r in runners.alive]
    baseline = set(descendants(runner_pids))
    phases: list[ExecutionPhase.ValueType] = []
    cleanup: list[float] = []
    for round_ in range(SCALE.random_cancels):
        execution_id = await api.start(session, f"Cancel me ({round_}).")
        await asyncio.sleep(rng.uniform(0, 3))
        await api.cancel(execution_id)
        final = await api.wait_final(execution_id, within=30, context=runners.logs)
        ended = time.monotonic()
        phases.append(final.status.phase)
        await _no_process_left(runners, runner_pids, baseline, f"turn {round_}")
        cleanup.append(time.monotonic() - ended)
    cancelled = phases.count(ExecutionPhase.EXECUTION_CANCELLED)
    figures.add(
        f"random-cancels: {cancelled}/{SCALE.random_cancels} CANCELLED, 0 sandbox processes "
        f"left, last process gone p50 {statistics.median(cleanup):.2f} s max "
        f"{max(cleanup):.2f} s after the final status"
    )
    assert cancelled == SCALE.random_cancels, [ExecutionPhase.Name(p) for p in phases]


async def _no_process_left(
    runners: RunnerPool, runner_pids: list[int], baseline: set[int], turn: str
) -> None:
    """No process with the marker, none working in a sandbox, and nothing under a runner
    that was not there before the turns."""
    left: list[int] = []

    def gone() -> bool:
        nonlocal left
        new = [pid for pid in descendants(runner_pids) if pid not in baseline]
        in_sandboxes = working_in(runners.data_dir / "sandboxes")
        left = sorted({*running_commands(MARKER), *new, *in_sandboxes})
        return not left

    await eventually_async(
        gone,
        timeout=10,
        message=lambda: f"{turn}'s sandbox processes to go:\n{describe(left)}",
    )
