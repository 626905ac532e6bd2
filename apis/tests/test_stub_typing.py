"""The committed stubs type-check their users strictly: a wrong field name is an error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import mypy.api
import pytest

STUBS = Path(__file__).resolve().parents[1] / "stubs" / "python"

GOOD = """
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.spec_pb2 import AgentSpec
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus

agent = Agent(api_version="agentic.stigmer.ai/v1", kind="Agent", spec=AgentSpec(model="x"))
status = AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_IN_PROGRESS)
model: str = agent.spec.model
phase: ExecutionPhase.ValueType = status.phase
"""

BAD = """
from ai.stigmer.agentic.agent.v1.spec_pb2 import AgentSpec
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus

spec = AgentSpec(modell="x")
count: int = AgentExecutionStatus().error
name: str = spec.instruction
"""


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    work = tmp_path_factory.mktemp("typing")
    (work / "good.py").write_text(textwrap.dedent(GOOD))
    (work / "bad.py").write_text(textwrap.dedent(BAD))
    config = work / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {STUBS}\n")
    stdout, stderr, code = mypy.api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file",
            str(config),
            "--python-version",
            "3.11",
            "--namespace-packages",
            "--explicit-package-bases",
            "--cache-dir",
            str(work / "cache"),
            str(work / "good.py"),
            str(work / "bad.py"),
        ]
    )
    assert not stderr, stderr
    return stdout, code


@pytest.mark.timeout(180)
def test_correct_use_of_the_stubs_type_checks(mypy_report: tuple[str, int]) -> None:
    stdout, _ = mypy_report
    assert "good.py" not in stdout, stdout


@pytest.mark.timeout(180)
def test_wrong_field_names_and_types_fail_mypy(mypy_report: tuple[str, int]) -> None:
    stdout, code = mypy_report
    assert code == 1
    bad_lines = [line for line in stdout.splitlines() if "bad.py" in line]
    assert any('Unexpected keyword argument "modell"' in line for line in bad_lines), stdout
    assert any("instruction" in line for line in bad_lines), stdout
    assert any("Incompatible types in assignment" in line for line in bad_lines), stdout
