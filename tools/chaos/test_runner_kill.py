"""Runner kill -9 at random points of a turn with tool calls and a sub-agent.

Every turn must complete on another runner, and no tool whose result was checkpointed may
run again. Each command appends its name to runs.log in the sandbox. A command followed in
runs.log by another one at the moment of the kill was surely checkpointed (the next model
step starts only after the checkpoint), so it must appear exactly once at the end; the last
one may legitimately run again (killed before its result was saved).

Random kills now and then land between a step's saved result and the next checkpoint;
test_kill_before_checkpoint.py kills at that moment on purpose.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from chaos_api import ChaosApi, write_script
from chaos_cluster import RunnerPool
from chaos_figures import Figures
from chaos_kill_turn import MAIN, STEPS, SUB, runs
from chaos_scale import SCALE
from chaos_temporal import FileTemporal
from chaos_turns import agent_stack_ready, turn_owner

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from stigmer_testing import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


# What the runner logs when it takes a checkpoint for a finished turn.


@dataclass
class Round:
    recovery: float | None  # kill to the first change the next attempt stored
    finished: float  # kill to COMPLETED
    reruns: list[str]
    during: str  # the command last started before the kill ("start": none yet)
    problems: list[str]  # what the round found wrong, with the evidence


@pytest.mark.timeout(SCALE.timeout(short=300, full=900))
async def test_runner_kill_at_random_points(
    api: ChaosApi,
    runners: RunnerPool,
    file_temporal: FileTemporal,
    figures: Figures,
    tmp_path: Path,
) -> None:
    rng = random.SystemRandom()
    model = write_script(tmp_path, "kill", MAIN, SUB)
    rounds: list[Round] = []
    for round_ in range(SCALE.runner_kills):
        # Two runners ready (agent stack loaded): one to kill, one to take the turn over.
        for runner in await runners.ensure(2):
            await agent_stack_ready(runner)
        session = await api.session(model)
        rounds.append(
            await _kill_round(
                api, runners, file_temporal.address, session, rng, f"Kill round {round_}."
            )
        )
    recoveries = [r.recovery for r in rounds if r.recovery is not None]
    finishes = [r.finished for r in rounds]
    reruns = sum(len(r.reruns) for r in rounds)
    whole = sum(1 for r in rounds if not r.problems)
    points = Counter(r.during for r in rounds)
    during = ", ".join(f"{name} x{points[name]}" for name in ["start", *STEPS] if points[name])
    figures.add(
        f"runner-kill: {whole}/{SCALE.runner_kills} completed whole, {reruns} re-runs, "
        f"recovery p50 {statistics.median(recoveries):.1f} s max {max(recoveries):.1f} s, "
        f"kill to completed p50 {statistics.median(finishes):.1f} s max {max(finishes):.1f} s "
        f"(kills during or after: {during})"
    )
    problems = [p for r in rounds for p in r.problems]
    assert not problems, "\n\n".join(problems)


async def _kill_round(
    api: ChaosApi,
    runners: RunnerPool,
    temporal_address: str,
    session: Session,
    rng: random.Random,
    message: str,
) -> Round:
    sandbox = runners.data_dir / "sandboxes" / f"local-{session.metadata.id}"
    execution_id = await api.start(session, message)
    owner = await turn_owner(temporal_address, runners, execution_id)
    wait_for = rng.randrange(len(STEPS))
    await eventually_async(
        lambda: len(runs(sandbox)) >= wait_for,
        timeout=60,
        message=lambda: f"{wait_for} commands to run before the kill\n" + runners.logs(),
    )
    await asyncio.sleep(rng.uniform(0, 0.6))
    before = await api.get(execution_id)
    ran_before = runs(sandbox)
    killed_at = time.monotonic()
    await runners.kill(owner)
    recovery = None
    if before.status.phase != ExecutionPhase.EXECUTION_COMPLETED:
        await eventually_async(
            lambda: _progressed(api, execution_id, before.status.sequence),
            timeout=120,
            interval=0.1,
            message=lambda: f"{execution_id} to progress after the kill\n{runners.logs()}",
        )
        recovery = time.monotonic() - killed_at
    final = await api.wait_final(execution_id, within=180, context=runners.logs)
    finished = time.monotonic() - killed_at
    ran = runs(sandbox)
    # The last command seen before the kill may not have been checkpointed yet.
    again = [name for name in ran_before[:-1] if ran.count(name) != 1]
    during = ran_before[-1] if ran_before else "start"
    problems = _check(final.status, ran, again)
    if problems:
        evidence = (
            f"{message} {execution_id} (session {session.metadata.id}), killed runner "
            f"{owner.pid} after runs.log {ran_before}, stored sequence "
            f"{before.status.sequence} with calls {_calls(before.status)}; at the end "
            f"runs.log {ran}, calls {_calls(final.status)}, last message "
            f"{final.status.messages[-1].content if final.status.messages else None!r}"
        )
        problems = [f"{evidence}: {'; '.join(problems)}"]
    return Round(
        recovery=recovery,
        finished=finished,
        reruns=again,
        during=during,
        problems=problems,
    )


def _check(status: AgentExecutionStatus, ran: list[str], again: list[str]) -> list[str]:
    problems = []
    if status.phase != ExecutionPhase.EXECUTION_COMPLETED:
        problems.append(f"ended {ExecutionPhase.Name(status.phase)}: {status.error}")
    if [c.status for c in status.tool_calls] != [ToolCallStatus.TOOL_CALL_COMPLETED] * 4:
        problems.append("the stored status does not hold the 4 calls, all COMPLETED")
    if not status.messages or status.messages[-1].content != "all steps done":
        problems.append("the last message is not the script's final answer")
    if set(ran) != set(STEPS):
        problems.append(f"not every command ran: {ran}")
    if again:
        problems.append(f"checkpointed commands ran again: {again}")
    return problems


def _calls(status: AgentExecutionStatus) -> list[str]:
    return [
        f"{c.name}:{ToolCallStatus.Name(c.status).removeprefix('TOOL_CALL_')}"
        for c in status.tool_calls
    ]


async def _progressed(api: ChaosApi, execution_id: str, sequence: int) -> bool:
    """A stored change after the kill: written by the attempt that took the turn over (the
    killed one cannot write any more)."""
    return (await api.get(execution_id)).status.sequence > sequence
