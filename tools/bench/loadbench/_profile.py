"""Sampling profiles of the server and the runner during the burst, with py-spy.

`py-spy record --pid` attaches with ptrace (root here, or CAP_SYS_PTRACE), samples 100
times a second without pausing the target (`--nonblocking`), and writes collapsed stacks
(`--format raw`: `root;...;leaf count` lines, frames by line) when it gets SIGINT at the
end of the burst; the summary aggregates them by function.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread
import inspect
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiosqlite.core

from loadbench._procstat import cpu_seconds

_STOP_TIMEOUT = 30.0
# Leaf frames of a thread waiting for work: py-spy cannot always tell them from running
# ones without pausing the target, so they are counted apart, not as hot spots. Where one
# function both waits and works (aiosqlite's worker thread runs SQLite's C code in the same
# frame it waits in), only the waiting line counts.
_WAIT_FUNCTIONS = ("EpollSelector.select ", "Condition.wait ", "Event.wait ")


def _wait_lines() -> tuple[str, ...]:
    found = []
    for function, needle in (
        (aiosqlite.core._connection_worker_thread, "tx.get()"),
        (concurrent.futures.thread._worker, "work_queue.get(block=True)"),
    ):
        lines, first = inspect.getsourcelines(function)
        for offset, line in enumerate(lines):
            if needle in line:
                module = function.__module__.replace(".", "/")
                found.append(f"{function.__name__} ({module}.py:{first + offset})")
    return tuple(found)


def _function(frame: str) -> str:
    """`name (file:line)` without the line: samples aggregate by function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rpartition(':')[0]})" if ":" in where else frame


# Frames every stack passes through (the event loop, thread start-up, the entry point):
# listing them by total samples says nothing.
_PLUMBING = (
    "asyncio/",
    "<frozen runpy>",
    "threading.py",
    "concurrent/futures/",
    "__main__.py",
    "agent_runner/main.py",  # the runner's entry point, below its __main__
)


@dataclass(frozen=True)
class Hotspot:
    function: str
    own: float  # share of samples with this function on top of the stack
    total: float  # share of samples with this function anywhere on the stack


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    cpu_seconds: float  # what py-spy itself used
    samples: int  # all samples
    waiting: int  # samples of threads waiting for work (see _WAITS); shares exclude them
    by_own: tuple[Hotspot, ...]
    by_total: tuple[Hotspot, ...]
    # By what each sample was doing for: its first two frames below the event loop or the
    # thread start (an RPC handler and its method, a turn's activity, a stream reader).
    by_entry: tuple[tuple[str, float], ...]


class Recorder:
    def __init__(self, name: str, pid: int, out_dir: Path) -> None:
        self.name = name
        self.path = out_dir / f"{name}.txt"
        self._pid = pid
        self._log = out_dir / f"{name}.py-spy.log"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        py_spy = Path(sys.executable).with_name("py-spy")
        with self._log.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                str(py_spy), "record", "--pid", str(self._pid), "--rate", "100",
                "--nonblocking", "--format", "raw", "--output", str(self.path),
                stdout=log, stderr=log,
            )  # fmt: skip

    async def stop(self, top: int) -> Profile:
        process = self._process
        if process is None:
            raise RuntimeError(f"the {self.name} profile was not started")
        cpu = cpu_seconds(process.pid) if process.returncode is None else 0.0
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), timeout=_STOP_TIMEOUT)
        if not self.path.exists():
            log = self._log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"py-spy wrote no {self.name} profile (ptrace refused?):\n{log}")
        return summarize(self.name, self.path, top, cpu)


def summarize(name: str, path: Path, top: int, cpu: float = 0.0) -> Profile:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    samples = waiting = 0
    waits = _wait_lines()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        lines = stack.split(";")
        samples += count
        if lines[-1].startswith(_WAIT_FUNCTIONS) or lines[-1].endswith(waits):
            waiting += count
            continue
        frames = [_function(line) for line in lines]
        own[frames[-1]] += count
        ours = [frame for frame in frames if not any(part in frame for part in _PLUMBING)]
        for frame in set(ours):
            total[frame] += count
        entries[" > ".join(ours[:2]) or frames[-1]] += count
    busy = samples - waiting
    if not busy:
        return Profile(name, path, cpu, samples, waiting, (), (), ())

    def spots(counter: Counter[str]) -> tuple[Hotspot, ...]:
        return tuple(
            Hotspot(f, own[f] / busy, total[f] / busy) for f, _ in counter.most_common(top)
        )

    by_entry = tuple((entry, n / busy) for entry, n in entries.most_common(top))
    return Profile(name, path, cpu, samples, waiting, spots(own), spots(total), by_entry)
