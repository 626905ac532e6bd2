"""What the CLI's end-to-end tests share: the real `stigmer` program run with a data directory
of its own (and a HOME of its own, to prove nothing is written outside it)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = Path(sys.executable).parent / "stigmer"
# The installed script when there is one (uv's venv), else the same program as a module (Bazel).
STIGMER = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "stigmer_cli"]
REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
SLOW_SCRIPT = """\
replies:
  - tool_calls:
      - {name: execute, args: {command: "sleep 30"}}
  - text: "slept"
"""
SLOW_MANIFEST = """\
apiVersion: agentic.stigmer.ai/v1
kind: Agent
metadata: {name: Slow agent}
spec:
  model: scripted:%s
  instructions: Wait.
---
apiVersion: agentic.stigmer.ai/v1
kind: AgentInstance
metadata: {name: Slow}
spec: {agent: slow-agent}
"""


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def cli_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STIGMER_", "TEMPORAL_", "ANTHROPIC_", "OPENAI_"))
    }
    env["STIGMER_HOME"] = str(home)
    env["HOME"] = str(user_home(home))
    env["COLUMNS"] = "160"
    return env


def user_home(home: Path) -> Path:
    """A HOME of its own per data directory, to prove nothing is written outside STIGMER_HOME."""
    path = home.with_name(home.name + "-user")
    path.mkdir(exist_ok=True)
    return path


def stigmer(
    home: Path, *args: str, timeout: float = 120.0, extra_env: dict[str, str] | None = None
) -> Result:
    done = subprocess.run(
        [*STIGMER, *args],
        env=cli_env(home) | (extra_env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@contextlib.contextmanager
def running(home: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """`stigmer <args>` in the background; killed on the way out if a test left it running."""
    process = subprocess.Popen(
        [*STIGMER, *args],
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def port_flags(ports: list[int]) -> list[str]:
    return [
        "--temporal-port",
        str(ports[0]),
        "--temporal-ui-port",
        str(ports[1]),
        "--server-port",
        str(ports[2]),
    ]


def recorded_pids(home: Path) -> list[int]:
    state = json.loads((home / "local-state.json").read_text(encoding="utf-8"))
    pids = [c["pid"] for c in state["components"].values() if c["pid"] is not None]
    return [state["supervisor_pid"], *pids]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    return stat_line[stat_line.rindex(")") + 2] != "Z"
