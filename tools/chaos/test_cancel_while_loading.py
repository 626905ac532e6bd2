"""A turn cancelled while its runner still loads the agent stack (the first turn on a fresh
runner waits for the load): the turn ends CANCELLED and the runner goes on serving.

The load is made slow and deterministic with a `bwrap` on the runner's PATH whose sandbox
probe (`bwrap ... /bin/sh -c true`, run once while the stack loads) first sleeps; other
bwrap calls go straight to the real one."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from chaos_api import ChaosApi, execute, text, write_script
from chaos_cluster import ChaosServer, RunnerPool
from chaos_figures import Figures
from chaos_scale import SCALE
from chaos_temporal import FileTemporal
from chaos_turns import turn_owner

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_testing import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

# Seconds; longer than a cancel takes to reach the attempt (with its next heartbeat, which
# Temporal's SDK throttles to 0.8 x the 10 s heartbeat timeout). The probe's own 10 s
# timeout kills the shell, but the sleep keeps its pipes open, so the load waits it out.
PROBE_DELAY = 20


def _slow_probe_bwrap(directory: Path) -> Path:
    real = shutil.which("bwrap")
    if real is None:
        pytest.skip("no bwrap on this host: the local sandbox probe does not run")
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "bwrap"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *"/bin/sh -c true") sleep {PROBE_DELAY};; esac\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    return directory


@pytest.fixture
async def slow_loading(
    file_temporal: FileTemporal, tmp_path: Path
) -> AsyncIterator[tuple[ChaosApi, RunnerPool]]:
    """A server of its own (so no loaded runner takes the turn) and a runner whose agent
    stack takes PROBE_DELAY seconds to load."""
    server = ChaosServer(file_temporal.address, tmp_path / "server")
    await server.start()
    path = f"{_slow_probe_bwrap(tmp_path / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}"
    pool = RunnerPool(server, file_temporal.address, tmp_path / "runner", env={"PATH": path})
    try:
        async with grpc.aio.insecure_channel(server.current.address) as channel:
            yield ChaosApi(channel, server.api_key), pool
    finally:
        await pool.stop_all()
        await server.stop()


@pytest.mark.timeout(SCALE.timeout(short=150, full=150))
async def test_cancel_while_the_agent_stack_loads(
    slow_loading: tuple[ChaosApi, RunnerPool],
    file_temporal: FileTemporal,
    figures: Figures,
    tmp_path: Path,
) -> None:
    api, pool = slow_loading
    runner = await pool.start()
    model = write_script(tmp_path, "loading", [execute("echo second turn"), text("served")])
    session = await api.session(model)
    first = await api.start(session, "Cancelled while loading.")
    await turn_owner(file_temporal.address, pool, first)
    assert "agent stack ready" not in runner.log(), "the load was not slowed down"
    cancelled_at = time.monotonic()
    await api.cancel(first)
    final = await api.wait_final(first, within=60, context=pool.logs)
    ended = time.monotonic() - cancelled_at
    await eventually_async(
        lambda: "agent stack ready" in runner.log() or runner.process.returncode is not None,
        timeout=PROBE_DELAY + 60,
        message=lambda: "the runner to finish loading or exit\n" + runner.log()[-3000:],
    )
    alive = runner.process.returncode is None
    figures.add(
        f"cancel-while-loading: turn {ExecutionPhase.Name(final.status.phase)} "
        f"{ended:.1f} s after the cancel, runner {'alive' if alive else 'exited'}"
    )
    assert final.status.phase == ExecutionPhase.EXECUTION_CANCELLED
    assert alive, f"the runner exited with {runner.process.returncode}\n{runner.log()[-3000:]}"
    second = await api.start(session, "Served after the cancel.")
    done = await api.wait_final(second, within=60, context=pool.logs)
    assert done.status.phase == ExecutionPhase.EXECUTION_COMPLETED, done.status.error
