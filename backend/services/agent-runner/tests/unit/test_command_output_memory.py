"""A command printing 400 MB costs the runner no memory: output is read as it comes and only
the cap is kept. Measured in a subprocess of its own (the runner's local shell backend), by
its peak RSS before and after the command, so nothing else of the test run counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MAX_GROWTH_KB = 100 * 1024
PROBE = """
import asyncio, json, resource, sys
from pathlib import Path
from agent_runner.environment import Redactor
from agent_runner.sandbox import SandboxShellBackend

mode, root, size = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
backend = SandboxShellBackend(
    root, env={"PATH": "/usr/bin:/bin"}, timeout=300, max_output_bytes=100_000,
    sandbox_id="memory", prefix=[], redact=Redactor(["a-secret-never-printed"]),
)
# Warm up both paths, so what they load once is not counted as growth.
backend.execute("echo warm")
asyncio.run(backend.aexecute("echo warm"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
command = f"yes 0123456789abcdef | head -c {size}; echo; echo the-last-line; exit 3"
if mode == "async":
    result = asyncio.run(backend.aexecute(command))
else:
    result = backend.execute(command)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "growth_kb": after - before, "exit_code": result.exit_code, "truncated": result.truncated,
    "output": result.output,
}))
"""


@pytest.mark.timeout(300)
# The turn's path (async) with the full 400 MB; the sync path, which the same reader serves,
# with less to keep the suite quick (the old code grew by 3.8x the output on both).
@pytest.mark.parametrize(("mode", "size"), [("async", 400_000_000), ("sync", 150_000_000)])
def test_400_mb_of_output_grows_the_reader_by_less_than_100_mb(
    tmp_path: Path, mode: str, size: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(tmp_path), str(size)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    print(f"{mode}: peak RSS growth {report['growth_kb'] / 1024:.1f} MB for {size / 1e6:.0f} MB")
    assert report["growth_kb"] < MAX_GROWTH_KB, report["growth_kb"]
    assert report["exit_code"] == 3
    assert report["truncated"]
    output = report["output"]
    assert len(output.encode()) < 100_000 + 200  # the cap plus the markers
    assert output.startswith("0123456789abcdef\n0123456789abcdef\n")
    assert output.endswith("\nthe-last-line\n\nExit code: 3")
    assert "bytes of output omitted" in output
