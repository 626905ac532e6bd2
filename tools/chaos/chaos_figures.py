"""One line of figures per scenario, printed after the run and, at full scale, written to
docs/benchmarks/chaos.md (the measured record the issue asks for)."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPORT = Path("docs") / "benchmarks" / "chaos.md"
COMMAND = "make chaos"

SCENARIOS = (
    "- **runner-kill**: a turn with commands and a sub-agent; its runner is killed -9 at a",
    "  random point; another runner completes it. No command that was checkpointed runs",
    "  again; recovery is the kill to the first change the next attempt stores.",
    "- **server-kill**: the server is killed -9 while a turn streams and restarted on the",
    "  same address and database; the final status is stored whole, and a watcher that",
    "  resumes with `after_sequence` builds, from events alone, the stored execution (a",
    "  write stored after the final phase is counted: the stream ends at the final phase).",
    "- **temporal-restart**: the Temporal dev server is killed -9 mid-turn and restarted on",
    "  its file database; the turn in flight and a new one complete.",
    "- **cancel-next-turn**: turn 1 loops appending to a file, turn 2 waits in the same",
    "  session, turn 1 is cancelled; the file must not grow while turn 2 runs.",
    "- **stale-attempt**: attempts 1 and 2 of one execution write its status at once",
    "  (gRPC); once attempt 2 has written, every update of attempt 1 is refused.",
    "- **big-output**: one command prints hundreds of MB; the runner's RSS (sampled, and",
    "  VmHWM) grows less than 100 MB and the tool result stays capped.",
    "- **big-calls** / **small-calls**: turns of many 60 KB results and of many small",
    "  calls complete, and the stored execution holds every call with its whole result.",
    "- **random-cancels**: turns of one session cancelled at random moments (queued to",
    "  mid-command) end CANCELLED and leave no sandbox process.",
    "- **cancel-while-loading**: the first turn of a fresh runner,",
    "  cancelled while the runner still loads its agent stack, ends CANCELLED and the",
    "  runner serves on.",
    "- **kill-before-checkpoint**: the runner is stopped and killed",
    "  just after a step saved its result and before the next checkpoint; the turn must",
    "  still run to its end.",
    "",
    "Both of the last two found a runner bug when the suite was written; both are fixed.",
)


@dataclass
class Figures:
    """The scenario lines of one run, in the order the scenarios finished."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


def machine() -> str:
    cpus = os.cpu_count() or 0
    memory = _memory_gib()
    python = sys.version.split()[0]
    return (
        f"{platform.system()} {platform.machine()}, {cpus} CPUs, {memory} GiB RAM, Python {python}"
    )


def _memory_gib() -> str:
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:  # not Linux: the figure is only context
        return "?"
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f}"
    return "?"


def render(figures: Figures, seconds: float, now: datetime | None = None) -> str:
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Chaos suite",
        "",
        "Faults injected into real processes (Temporal dev server, stigmer-server, agent-runner,",
        "local sandbox, scripted model); one line of figures per scenario. The scenarios and",
        "their assertions are in `tools/chaos/`; `make test` runs a short version of each.",
        "",
        f"- Date: {when}",
        f"- Machine: {machine()}",
        f"- Command: `{COMMAND}` (`CHAOS_SCALE=full`), {seconds:.0f} s in all",
        "",
        "```",
        *figures.lines,
        "```",
        "",
        "## What each line asserts",
        "",
        *SCENARIOS,
        "",
    ]
    return "\n".join(lines)


def write_report(root: Path, figures: Figures, seconds: float) -> Path:
    path = root / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(figures, seconds))
    return path
