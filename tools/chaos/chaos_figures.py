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
    ]
    return "\n".join(lines)


def write_report(root: Path, figures: Figures, seconds: float) -> Path:
    path = root / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(figures, seconds))
    return path
