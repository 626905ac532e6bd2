"""The live view, frame by frame, from the `subscribe` events of a real demo turn.

data/<scenario>_events.jsonl were recorded from a real local system by record_demo_events.py;
each event is applied with the shared merge code and the view rendered into a fixed-width
recording console. Set STIGMER_UPDATE_SNAPSHOTS=1 to rewrite the snapshot after a deliberate
change, and read its diff before committing it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from google.protobuf import json_format
from rich.console import Console

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent
from stigmer_cli.live import render_execution
from stigmer_status import apply_event

DATA = Path(__file__).parent / "data"
SCENARIOS = ("demo_turn", "failing_tool_turn", "failed_turn", "cancelled_turn", "approval_turn")


def _events(scenario: str) -> list[AgentExecutionEvent]:
    path = DATA / f"{scenario}_events.jsonl"
    return [
        json_format.Parse(line, AgentExecutionEvent())
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _render(execution: AgentExecution) -> str:
    console = Console(
        file=io.StringIO(),
        record=True,
        width=100,
        color_system=None,
        force_terminal=False,
        get_time=lambda: 0.0,  # spinners show their first frame
    )
    console.print(render_execution(execution))
    return "".join(line.rstrip() + "\n" for line in console.export_text().splitlines())


def _final(scenario: str) -> AgentExecution:
    current: AgentExecution | None = None
    for event in _events(scenario):
        current = apply_event(current, event)
    assert current is not None
    return current


def test_demo_turn_shows_tools_todos_sub_agent_and_answer() -> None:
    final = _final("demo_turn")
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED
    view = _render(final)
    for part in (
        "✓ execute echo 'turn one was here' >> notes.txt && ls",
        "✓ sub-agent researcher: Find out which operating system the sandbox runs.",
        "    ✓ execute uname -s",
        "[x] Summarise",
        "This is the scripted demo model.",
        "completed (in ",
    ):
        assert part in view


def test_failures_and_cancellation_are_shown() -> None:
    failing_tool = _render(_final("failing_tool_turn"))
    assert (
        "✗ execute echo building; echo 'missing header' >&2; exit 3  "
        "[Command failed with exit code 3]"
    ) in failing_tool
    assert "The build failed with exit code 3" in failing_tool
    failed = _final("failed_turn")
    assert failed.status.phase == ExecutionPhase.EXECUTION_FAILED
    assert "OPENAI_API_KEY" in _render(failed)
    cancelled = _final("cancelled_turn")
    assert cancelled.status.phase == ExecutionPhase.EXECUTION_CANCELLED
    view = _render(cancelled)
    assert "- execute sleep 30  (did not finish)" in view  # no spinner once the turn ended
    assert "cancelled (in " in view


def test_a_turn_waiting_for_approval_shows_what_waits_and_what_was_decided() -> None:
    frames = []
    current: AgentExecution | None = None
    for event in _events("approval_turn"):
        current = apply_event(current, event)
        frames.append((current.status.phase, _render(current)))
    waiting = [
        view for phase, view in frames if phase == ExecutionPhase.EXECUTION_AWAITING_APPROVAL
    ]
    assert waiting
    assert "? execute echo cleaned  (waiting for approval: main-call-0-0)" in waiting[0]
    assert "? execute rm -rf /important  (waiting for approval: main-call-0-1)" in waiting[0]
    assert "waiting for approval (stigmer approve / stigmer reject)" in waiting[0]
    phase, final = frames[-1]
    assert phase == ExecutionPhase.EXECUTION_COMPLETED
    assert "✓ execute echo cleaned" in final
    assert "⊘ execute rm -rf /important  never in /important" in final


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_frame_matches_the_snapshot(scenario: str) -> None:
    current: AgentExecution | None = None
    frames = []
    for event in _events(scenario):
        current = apply_event(current, event)
        frames.append(f"=== after sequence {event.sequence} ===\n{_render(current)}")
    snapshot = DATA / f"{scenario}_view.txt"
    if os.environ.get("STIGMER_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text("".join(frames), encoding="utf-8")
    assert "".join(frames) == snapshot.read_text(encoding="utf-8")
