"""The live view, frame by frame, from the `subscribe` events of a real demo turn.

data/demo_turn_events.jsonl was recorded from a real local system by record_demo_events.py;
each event is applied with the shared merge code and the view rendered into a fixed-width
recording console. Set STIGMER_UPDATE_SNAPSHOTS=1 to rewrite the snapshot after a deliberate
change, and read its diff before committing it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from google.protobuf import json_format
from rich.console import Console

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent
from stigmer_cli.live import render_execution
from stigmer_status import apply_event

DATA = Path(__file__).parent / "data"
EVENTS = DATA / "demo_turn_events.jsonl"
SNAPSHOT = DATA / "demo_turn_view.txt"


def _events() -> list[AgentExecutionEvent]:
    return [
        json_format.Parse(line, AgentExecutionEvent())
        for line in EVENTS.read_text(encoding="utf-8").splitlines()
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


def _frames() -> str:
    current: AgentExecution | None = None
    frames = []
    for event in _events():
        current = apply_event(current, event)
        frames.append(f"=== after sequence {event.sequence} ===\n{_render(current)}")
    return "".join(frames)


def test_recorded_turn_ends_completed_with_every_part_shown() -> None:
    current: AgentExecution | None = None
    for event in _events():
        current = apply_event(current, event)
    assert current is not None
    assert current.status.phase == ExecutionPhase.EXECUTION_COMPLETED
    final = _render(current)
    for part in (
        "execute echo 'turn one was here' >> notes.txt && ls",
        "sub-agent researcher: Find out which operating system the sandbox runs.",
        "    ✓ execute uname -s",
        "[x] Summarise",
        "This is the scripted demo model.",
        "completed (in ",
    ):
        assert part in final


def test_every_frame_matches_the_snapshot() -> None:
    frames = _frames()
    if os.environ.get("STIGMER_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(frames, encoding="utf-8")
    assert frames == SNAPSHOT.read_text(encoding="utf-8")
