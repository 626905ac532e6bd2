"""The live view on a terminal: the newest part of every frame while the turn runs, the
whole frame once it ends.

rich's `Live` cannot scroll: a frame taller than the terminal is cut at the bottom (its
default vertical overflow), which is exactly where a streaming reply grows. So while the
turn runs each frame shows its last lines that fit, under a line saying how many are above;
when the display stops, the transient live frame is cleared and the last frame is printed
whole, into the terminal's scrollback like any output.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.segment import Segment
from rich.text import Text

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from stigmer_cli.live._view import render_execution

_REFRESH_PER_SECOND = 8


class Tail:
    """At most the terminal's height of `renderable`: its last lines, under a note."""

    def __init__(self, renderable: RenderableType) -> None:
        self._renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self._renderable, options, pad=False)
        height = options.height or options.size.height
        if len(lines) > height:
            hidden = len(lines) - height + 1
            note = Text(f"... {hidden} more lines above (all shown at the end)", style="dim")
            lines = [*console.render_lines(note, options, pad=False), *lines[-(height - 1) :]]
        for line in lines:
            yield from line
            yield Segment.line()


class LiveDisplay:
    def __init__(self, console: Console) -> None:
        self._console = console
        self._live = Live(console=console, refresh_per_second=_REFRESH_PER_SECOND, transient=True)
        self._last: AgentExecution | None = None

    def show(self, execution: AgentExecution) -> None:
        self._last = execution
        self._live.update(Tail(render_execution(execution)))

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()
        if self._last is not None:
            self._console.print(render_execution(self._last))
