"""The live view keeps a tall turn's streaming tail in sight, and prints it whole at the end."""

from __future__ import annotations

import io

from rich.console import Console

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    TodoStatus,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentMessage, Todo
from stigmer_cli.live import LiveDisplay, Tail, render_execution

HEIGHT = 15
LINES = 60


def tall(phase: ExecutionPhase.ValueType = ExecutionPhase.EXECUTION_IN_PROGRESS) -> AgentExecution:
    execution = AgentExecution()
    status = execution.status
    status.phase = phase
    status.messages.append(
        AgentMessage(id="h", type=MessageType.MESSAGE_HUMAN, content="Write a long answer.")
    )
    answer = "\n".join(f"streamed line {i}" for i in range(LINES))
    status.messages.append(AgentMessage(id="a", type=MessageType.MESSAGE_AI, content=answer))
    status.todos["todo-0"].CopyFrom(
        Todo(id="todo-0", content="Answer at length", status=TodoStatus.TODO_IN_PROGRESS)
    )
    return execution


def console(*, terminal: bool) -> Console:
    return Console(
        file=io.StringIO(),
        width=80,
        height=HEIGHT,
        force_terminal=terminal,
        color_system=None,
        get_time=lambda: 0.0,
        record=not terminal,
    )


def test_a_frame_taller_than_the_terminal_shows_its_last_lines() -> None:
    target = console(terminal=False)
    full = target.render_lines(render_execution(tall()), target.options, pad=False)
    target.print(Tail(render_execution(tall())))
    shown = target.export_text().splitlines()
    assert len(shown) == HEIGHT
    assert shown[0] == f"... {len(full) - HEIGHT + 1} more lines above (all shown at the end)"
    # The newest streamed text, the todos and the spinner are all in sight.
    assert f"streamed line {LINES - 1}" in shown
    assert "[>] Answer at length" in "\n".join(shown)
    assert "streamed line 0" not in shown


def test_a_frame_that_fits_is_shown_whole() -> None:
    target = console(terminal=False)
    short = AgentExecution()
    short.status.messages.append(AgentMessage(id="a", type=MessageType.MESSAGE_AI, content="hi"))
    target.print(Tail(render_execution(short)))
    plain = console(terminal=False)
    plain.print(render_execution(short))
    assert target.export_text() == plain.export_text()


def test_the_live_display_keeps_the_tail_visible_and_prints_everything_at_the_end() -> None:
    target = console(terminal=True)
    display = LiveDisplay(target)
    display.start()
    display.show(tall())
    display._live.refresh()
    output = target.file
    assert isinstance(output, io.StringIO)
    while_streaming = output.getvalue()
    assert f"streamed line {LINES - 1}" in while_streaming
    assert "streamed line 0\n" not in while_streaming
    display.show(tall(ExecutionPhase.EXECUTION_COMPLETED))
    display.stop()
    printed = output.getvalue()[len(while_streaming) :]
    assert all(f"streamed line {i}\n" in printed for i in range(LINES))
    assert "completed" in printed
