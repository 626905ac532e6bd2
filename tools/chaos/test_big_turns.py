"""Turns whose status is large: many calls printing 60 KB each, and hundreds of small calls.
Both must complete, and the stored execution must hold every call with its whole result."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from chaos_api import ChaosApi, execute, text, write_script
from chaos_cluster import RunnerPool
from chaos_figures import Figures
from chaos_scale import SCALE

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

KB60 = 60_000


async def _run_turn(
    api: ChaosApi, runners: RunnerPool, tmp_path: Path, name: str, commands: list[str]
) -> tuple[float, int, list[str]]:
    """Runs one call per reply; returns seconds, the stored execution's size, the results."""
    model = write_script(tmp_path, name, [*map(execute, commands), text(f"{name} done")])
    started = time.monotonic()
    execution_id = await api.start(await api.session(model))
    final = await api.wait_final(
        execution_id, within=SCALE.timeout(short=100, full=600), context=runners.logs
    )
    seconds = time.monotonic() - started
    status = final.status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, (status.error, runners.logs())
    assert len(status.tool_calls) == len(commands)
    assert all(c.status == ToolCallStatus.TOOL_CALL_COMPLETED for c in status.tool_calls)
    assert status.messages[-1].content == f"{name} done"
    return seconds, final.ByteSize(), [c.result for c in status.tool_calls]


@pytest.mark.timeout(SCALE.timeout(short=110, full=700))
async def test_many_calls_printing_60kb(
    api: ChaosApi, runners: RunnerPool, figures: Figures, tmp_path: Path
) -> None:
    # Each call prints its own number then 60 KB of x: distinct results of the full size.
    commands = [
        f"echo call-{i}; head -c {KB60} /dev/zero | tr '\\0' x" for i in range(SCALE.big_calls)
    ]
    seconds, size, results = await _run_turn(api, runners, tmp_path, "big-calls", commands)
    whole = sum(1 for i, r in enumerate(results) if f"call-{i}" in r and r.count("x") >= KB60)
    figures.add(
        f"big-calls: {SCALE.big_calls} calls x 60 KB COMPLETED in {seconds:.1f} s, stored "
        f"execution {size / 1024 / 1024:.2f} MB, {whole}/{SCALE.big_calls} results whole"
    )
    assert whole == SCALE.big_calls


@pytest.mark.timeout(SCALE.timeout(short=110, full=900))
async def test_many_small_calls(
    api: ChaosApi, runners: RunnerPool, figures: Figures, tmp_path: Path
) -> None:
    commands = [f"echo small-{i}" for i in range(SCALE.small_calls)]
    seconds, size, results = await _run_turn(api, runners, tmp_path, "small-calls", commands)
    whole = sum(1 for i, r in enumerate(results) if f"small-{i}" in r)
    figures.add(
        f"small-calls: {SCALE.small_calls} calls COMPLETED in {seconds:.1f} s "
        f"({seconds / SCALE.small_calls * 1000:.0f} ms a call), stored execution "
        f"{size / 1024:.0f} KB, {whole}/{SCALE.small_calls} results in place"
    )
    assert whole == SCALE.small_calls
