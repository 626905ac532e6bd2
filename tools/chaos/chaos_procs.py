"""What /proc says: sandbox commands still alive, a runner's memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path


def _live(entry: Path) -> tuple[str, str] | None:
    """(command line, state) of a live process, None when gone or a zombie."""
    try:
        cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None if state == "Z" else (cmdline.strip(), state)


def running_commands(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            live = _live(entry)
            if live is not None and marker in live[0]:
                found.append(int(entry.name))
    return found


def working_in(root: Path) -> list[int]:
    """Live processes whose working directory is `root` or below it (as the host sees it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _live(entry) is None:
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if cwd == root or root in cwd.parents:
            found.append(int(entry.name))
    return found


def descendants(roots: Iterable[int]) -> list[int]:
    """Live processes below `roots` (not the roots themselves): what a runner started."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _live(entry) is None:
            continue
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: list[int] = []
    frontier = set(roots)
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier}
        found.extend(sorted(children))
        frontier = children
    return found


def describe(pids: Iterable[int]) -> str:
    lines = []
    for pid in pids:
        live = _live(Path(f"/proc/{pid}"))
        if live is not None:
            lines.append(f"{pid}: {live[0][:200]}")
    return "\n".join(lines)


def memory_kib(pid: int, field_name: str) -> int:
    """A /proc/<pid>/status memory field (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise LookupError(f"{field_name} not in /proc/{pid}/status")


@dataclass
class RssSampler:
    """The highest VmRSS seen while sampling (every 20 ms), next to the kernel's VmHWM."""

    pid: int
    peak_kib: int = 0
    samples: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                self.peak_kib = max(self.peak_kib, memory_kib(self.pid, "VmRSS"))
                self.samples += 1
            await asyncio.sleep(0.02)

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[RssSampler]:
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
