"""Temporal dev server killed (-9) and started again on its file database mid-turn: the
turn in flight continues (its workflow and activity state were on disk) and a turn started
after the restart runs too."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import time
from pathlib import Path

import pytest
from chaos_api import ChaosApi, execute, text, write_script
from chaos_cluster import RunnerPool
from chaos_figures import Figures
from chaos_scale import SCALE
from chaos_temporal import FileTemporal

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_testing import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _ran(sandbox: Path) -> int:
    path = sandbox / "runs.log"
    return len(path.read_text().split()) if path.exists() else 0


@pytest.mark.timeout(SCALE.timeout(short=150, full=300))
async def test_temporal_restart_mid_turn(
    api: ChaosApi,
    runners: RunnerPool,
    file_temporal: FileTemporal,
    figures: Figures,
    tmp_path: Path,
) -> None:
    replies = [execute(f"echo {i} >> runs.log && sleep 0.5") for i in range(8)]
    model = write_script(tmp_path, "temporal", [*replies, text("done despite Temporal")])
    session = await api.session(model)
    sandbox = runners.data_dir / "sandboxes" / f"local-{session.metadata.id}"
    execution_id = await api.start(session)
    await eventually_async(
        lambda: _ran(sandbox) >= 1,
        timeout=60,
        message=lambda: "the turn's first command\n" + runners.logs(),
    )
    stopped = time.monotonic()
    await file_temporal.stop(signal.SIGKILL)
    assert not _listening(file_temporal.port)
    # Down long enough for the runner's heartbeats and status reports to meet the outage.
    await asyncio.sleep(random.SystemRandom().uniform(1, 3))
    startup = await file_temporal.start()
    down = time.monotonic() - stopped
    final = await api.wait_final(execution_id, within=120, context=runners.logs)
    finished = time.monotonic() - stopped
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, (
        final.status.error,
        runners.logs(),
    )
    assert final.status.messages[-1].content == "done despite Temporal"
    after_model = write_script(tmp_path, "after", [execute("echo after"), text("after restart")])
    after_id = await api.start(await api.session(after_model))
    after = await api.wait_final(after_id, within=120, context=runners.logs)
    assert after.status.phase == ExecutionPhase.EXECUTION_COMPLETED, after.status.error
    figures.add(
        f"temporal-restart: kill -9, restart on the file database, down {down:.1f} s "
        f"(start-up {startup:.1f} s), turn in flight COMPLETED {finished:.1f} s after the kill, "
        "a new turn after it COMPLETED"
    )
