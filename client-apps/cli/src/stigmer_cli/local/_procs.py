"""Processes known by pid plus start time, so a reused pid is never mistaken for ours."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


def start_time_of(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when it is gone.

    Without /proc (macOS) the pid alone identifies the process; the start time is "".
    """
    stat_file = Path(f"/proc/{pid}/stat")
    if not Path("/proc/self/stat").exists():
        return "" if _alive(pid) else None
    try:
        raw = stat_file.read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    start_time: str

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        started = start_time_of(pid)
        return None if started is None else cls(pid, started)

    def alive(self) -> bool:
        """True while the very process we recorded is running (not a later one with its pid)."""
        return start_time_of(self.pid) == self.start_time

    def signal(self, signum: signal.Signals, *, group: bool = False) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)

    def wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            time.sleep(0.05)
        return not self.alive()


def terminate(record: ProcessRecord, *, grace: float, group: bool) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL what is left."""
    record.signal(signal.SIGTERM, group=group)
    if record.wait_gone(grace):
        return
    record.signal(signal.SIGKILL, group=group)
    record.wait_gone(5.0)
