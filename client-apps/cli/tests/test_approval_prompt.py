"""The questions `stigmer run` asks about calls waiting for approval, with scripted answers."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from rich.console import Console

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import ToolCall
from stigmer_cli._errors import CliError
from stigmer_cli.commands._approvals import ask, decide_hint, edit_in_editor

APPROVE = ApprovalDecisionType.APPROVAL_DECISION_APPROVE
EDIT = ApprovalDecisionType.APPROVAL_DECISION_EDIT
REJECT = ApprovalDecisionType.APPROVAL_DECISION_REJECT


def call(call_id: str, *allowed: ApprovalDecisionType.ValueType) -> ToolCall:
    result = ToolCall(
        id=call_id,
        name="execute",
        display_name="execute rm -rf build",
        status=ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL,
    )
    result.args.update({"command": "rm -rf build"})
    result.approval.allowed_decisions.extend(allowed)
    return result


def scripted(*answers: str) -> tuple[list[str], object]:
    asked: list[str] = []
    queue = list(answers)

    def prompt(question: str, default: str) -> str:
        asked.append(question)
        return queue.pop(0)

    return asked, prompt


def console() -> Console:
    return Console(file=io.StringIO(), width=100, color_system=None)


def test_each_call_gets_its_own_decision_among_the_allowed_ones() -> None:
    asked, prompt = scripted("maybe", "a", "r", "not on a Friday", "e")
    decisions = ask(
        console(),
        [call("c1", APPROVE, REJECT), call("c2", APPROVE, REJECT), call("c3")],
        prompt=prompt,  # type: ignore[arg-type]
        edit=lambda text: text.replace("rm -rf build", "rm -rf build/tmp"),
    )
    # An answer that is not a choice is asked again; an empty rule allows all three.
    assert asked[0] == asked[1] == "approve [a]/reject [r]?"
    assert asked[-1] == "approve [a]/edit [e]/reject [r]?"
    assert [(d.tool_call_id, d.type) for d in decisions] == [
        ("c1", APPROVE),
        ("c2", REJECT),
        ("c3", EDIT),
    ]
    assert decisions[1].message == "not on a Friday"
    assert MessageToDict(decisions[2].args) == {"command": "rm -rf build/tmp"}


def test_edited_args_that_are_not_a_mapping_are_refused() -> None:
    _, prompt = scripted("e")
    with pytest.raises(CliError, match="mapping"):
        ask(console(), [call("c1")], prompt=prompt, edit=lambda text: "- a list")  # type: ignore[arg-type]


def test_the_editor_opens_the_args_as_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/build/dist/" "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    assert edit_in_editor("command: rm -rf build\n") == "command: rm -rf dist\n"


def test_the_hint_names_every_waiting_call() -> None:
    hint = decide_hint("aex-1", [call("c1"), call("c2")])
    assert hint[0] == "stigmer approve aex-1 c1 c2"
    assert hint[1] == 'stigmer reject aex-1 c1 --message "why not"'
