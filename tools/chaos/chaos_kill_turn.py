"""The turn the kill scenarios break: commands and a sub-agent, each command appending its
name to runs.log in the sandbox so the test can count what ran (and ran again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos_api import execute, text

STEPS = ["step-1", "sub-1", "step-2", "step-3"]  # in the order the turn runs them


def _command(name: str) -> str:
    return f"echo {name} >> runs.log && sleep 0.4"


MAIN: list[dict[str, Any]] = [
    execute(_command("step-1")),
    {
        "tool_calls": [
            {
                "name": "task",
                "args": {"description": "Run sub-1.", "subagent_type": "researcher"},
            }
        ]
    },
    execute(_command("step-2")),
    execute(_command("step-3")),
    text("all steps done"),
]
SUB: list[dict[str, Any]] = [execute(_command("sub-1")), text("sub-1 ran")]


def runs(sandbox: Path) -> list[str]:
    path = sandbox / "runs.log"
    return path.read_text().split() if path.exists() else []
