"""The worker polls before the agent stack loads: start-up must not import it (see
dependencies.py). Guarded here because one stray import silently doubles start-up time."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("langchain_core", "langgraph", "deepagents", "langchain_anthropic", "langchain_openai")


def test_the_entrypoint_imports_nothing_of_the_agent_stack() -> None:
    probe = (
        f"import sys, agent_runner.main; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
