"""What the kernel counts for a process: CPU seconds and bytes written, from /proc.

CPU is utime + stime of the process plus cutime + cstime of the children it has waited
for (the runner's sandbox commands, say); children still running are not in those. Bytes
written are `write_bytes` from /proc/<pid>/io: the pages the process dirtied in the page
cache for a file on a block device, i.e. what will reach the disk (a page rewritten before
it was flushed counts once).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Counters:
    cpu_seconds: float
    write_bytes: int

    def __sub__(self, other: Counters) -> Counters:
        return Counters(self.cpu_seconds - other.cpu_seconds, self.write_bytes - other.write_bytes)

    def __add__(self, other: Counters) -> Counters:
        return Counters(self.cpu_seconds + other.cpu_seconds, self.write_bytes + other.write_bytes)


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces; the fields after it start past its ")".
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rpartition(")")[2].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime (fields 14-17) in seconds."""
    fields = _stat_fields(pid)
    # fields[0] is field 3 (state): field n sits at index n - 3.
    return sum(int(fields[n - 3]) for n in (14, 15, 16, 17)) / _TICKS


def write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "write_bytes":
            return int(value)
    raise ValueError(f"/proc/{pid}/io has no write_bytes")


def counters(pids: Iterable[int]) -> Counters:
    """The sum over `pids`; a process that has gone since counts nothing."""
    total = Counters(0.0, 0)
    for pid in pids:
        try:
            total += Counters(cpu_seconds(pid), write_bytes(pid))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def children(pid: int) -> list[int]:
    """The direct children of `pid` (from each process's parent pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """`pid`'s children, their children, and so on (PostgreSQL's backends, say)."""
    found: list[int] = []
    queue = [pid]
    while queue:
        kids = children(queue.pop())
        found += kids
        queue += kids
    return found


def child_running(pid: int, executable: Path) -> int:
    """The pid of `pid`'s child running `executable` (the Temporal dev server the SDK
    started: the SDK does not say its pid)."""
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]
        except FileNotFoundError:
            continue
        if Path(command.decode()).resolve() == executable.resolve():
            return child
    raise LookupError(f"no child of {pid} runs {executable}")


def machine() -> str:
    """nproc, the CPU model and the RAM, for the report."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    ram_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_kib = int(line.split()[1])
            break
    return f"{os.cpu_count()} CPUs ({model}), {ram_kib / 1024 / 1024:.1f} GiB RAM"


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent on anything but idle and I/O wait since boot (the first
    line of /proc/stat), to compare what the measured processes used with the machine's
    load from others."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"
