"""Sampling profiles of the server and the runner during the burst, with py-spy.

`py-spy record --pid` attaches with ptrace (root here, or CAP_SYS_PTRACE), samples 100
times a second without pausing the target (`--nonblocking`), aggregates by function
(`--function`) and writes collapsed stacks (`--format raw`: `root;...;leaf count` lines)
when it gets SIGINT at the end of the burst.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Hotspot:
    function: str
    own: float  # share of samples with this function on top of the stack
    total: float  # share of samples with this function anywhere on the stack


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    samples: int
    by_own: tuple[Hotspot, ...]
    by_total: tuple[Hotspot, ...]


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
                "--nonblocking", "--function", "--format", "raw", "--output", str(self.path),
                stdout=log, stderr=log,
            )  # fmt: skip

    async def stop(self, top: int) -> Profile:
        process = self._process
        if process is None:
            raise RuntimeError(f"the {self.name} profile was not started")
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), timeout=_STOP_TIMEOUT)
        if not self.path.exists():
            log = self._log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"py-spy wrote no {self.name} profile (ptrace refused?):\n{log}")
        return summarize(self.name, self.path, top)


def summarize(name: str, path: Path, top: int) -> Profile:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return Profile(name, path, 0, (), ())

    def spots(counter: Counter[str]) -> tuple[Hotspot, ...]:
        return tuple(
            Hotspot(f, own[f] / samples, total[f] / samples) for f, _ in counter.most_common(top)
        )

    return Profile(name, path, samples, spots(own), spots(total))
