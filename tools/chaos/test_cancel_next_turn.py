"""Cancel, then the next turn of the same session: nothing of the cancelled turn may run
once the next one starts. Turn 1 runs a loop appending a line every 0.2 s; turn 2 counts
the lines when its command starts and again 2 s later, inside the same sandbox."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from chaos_api import ChaosApi, execute, text, write_script
from chaos_cluster import RunnerPool
from chaos_figures import Figures
from chaos_procs import running_commands
from chaos_scale import SCALE

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_testing import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

LOOP = "while true; do echo tick >> grow.log; sleep 0.2; done # chaos-grow"
COUNT = "wc -l < grow.log > t2-start.txt; sleep 2; wc -l < grow.log > t2-end.txt"


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.timeout(SCALE.timeout(short=90, full=120))
async def test_cancel_then_next_turn(
    api: ChaosApi, runners: RunnerPool, figures: Figures, tmp_path: Path
) -> None:
    model = write_script(tmp_path, "cancel-next", [execute(LOOP), execute(COUNT), text("t2")])
    session = await api.session(model)
    sandbox = runners.data_dir / "sandboxes" / f"local-{session.metadata.id}"
    grow = sandbox / "grow.log"
    first = await api.start(session, "Loop.")
    second = await api.start(session, "Count.")
    await eventually_async(
        lambda: _lines(grow) >= 5,
        timeout=60,
        message=lambda: "turn 1's loop to write\n" + runners.logs(),
    )
    cancelled_at = time.monotonic()
    await api.cancel(first)
    stopped = await api.wait_final(first, within=30, context=runners.logs)
    assert stopped.status.phase == ExecutionPhase.EXECUTION_CANCELLED
    await eventually_async(
        lambda: (sandbox / "t2-start.txt").exists(),
        timeout=60,
        interval=0.02,
        message=lambda: "turn 2's command to start\n" + runners.logs(),
    )
    next_started = time.monotonic() - cancelled_at
    final = await api.wait_final(second, within=60, context=runners.logs)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    at_start = int((sandbox / "t2-start.txt").read_text())
    at_end = int((sandbox / "t2-end.txt").read_text())
    loops_left = len(running_commands("chaos-grow"))
    figures.add(
        f"cancel-next-turn: turn 2 started {next_started:.1f} s after the cancel, grow.log "
        f"{at_start} -> {at_end} lines while it ran, {loops_left} loop processes left"
    )
    assert at_end == at_start, "the cancelled turn's loop kept writing during turn 2"
    assert loops_left == 0
