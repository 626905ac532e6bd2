"""`stigmer approve`, `stigmer reject`, `stigmer pending`, and the questions `stigmer run`
asks when a turn waits for approval (docs/guides/approvals.md)."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import ToolCallDecision, ToolCallDecisions
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import ToolCall
from stigmer_cli._client import Resources
from stigmer_cli._context import options
from stigmer_cli._errors import CliError
from stigmer_cli._kinds import EXECUTION

APPROVE = ApprovalDecisionType.APPROVAL_DECISION_APPROVE
EDIT = ApprovalDecisionType.APPROVAL_DECISION_EDIT
REJECT = ApprovalDecisionType.APPROVAL_DECISION_REJECT
_CHOICES = {APPROVE: "a", EDIT: "e", REJECT: "r"}
_WORDS = {APPROVE: "approve", EDIT: "edit", REJECT: "reject"}


def waiting_calls(execution: AgentExecution) -> list[ToolCall]:
    """The calls that wait for a decision nobody has made yet, the main agent's first."""
    return [call for call in _all_calls(execution) if _undecided(call)]


def _all_calls(execution: AgentExecution) -> Iterator[ToolCall]:
    yield from execution.status.tool_calls
    for sub in execution.status.sub_agent_executions:
        yield from sub.tool_calls


def _undecided(call: ToolCall) -> bool:
    return call.status == ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL and not call.approval.decision


def decide(
    resources: Resources, execution_id: str, decisions: Sequence[ToolCallDecision]
) -> AgentExecution:
    request = ToolCallDecisions(execution_id=execution_id, decisions=list(decisions))
    result: AgentExecution = resources.call(
        "decide",
        lambda: EXECUTION.command_stub(resources.channel).decide(request, timeout=90),
    )
    return result


def decide_hint(execution_id: str, calls: Sequence[ToolCall]) -> list[str]:
    """The commands that decide `calls`, for a person reading a terminal that cannot ask."""
    ids = " ".join(shlex.quote(call.id) for call in calls)
    first = shlex.quote(calls[0].id) if calls else "CALL"
    return [
        f"stigmer approve {execution_id} {ids}",
        f'stigmer reject {execution_id} {first} --message "why not"',
    ]


def describe(call: ToolCall) -> str:
    who = f" ({call.namespace})" if call.namespace else ""
    shown = call.display_name.strip().removeprefix(call.name + " ").strip()
    return f"{call.name}{who} {shown if shown != call.name else ''}".strip()


# -- the questions of `stigmer run` -----------------------------------------------------------

Prompt = Callable[[str, str], str]
Editor = Callable[[str], str]


def ask(
    console: Console, calls: Sequence[ToolCall], *, prompt: Prompt, edit: Editor
) -> list[ToolCallDecision]:
    """One decision per call, asked in a terminal: approve, edit (args in $EDITOR as YAML) or
    reject with a message, among the decisions the call's rule allows."""
    decisions = []
    for call in calls:
        allowed = list(call.approval.allowed_decisions) or [APPROVE, EDIT, REJECT]
        console.print(f"[bold yellow]approval needed[/] {escape(describe(call))}")
        console.print(escape(_args_yaml(call.args).rstrip()), style="dim")
        choices = "/".join(f"{_WORDS[d]} [{_CHOICES[d]}]" for d in allowed)
        while True:
            answer = prompt(f"{choices}?", _CHOICES[allowed[0]]).strip().lower()
            chosen = next((d for d in allowed if answer in (_CHOICES[d], _WORDS[d])), None)
            if chosen is not None:
                break
            console.print(f"[red]answer one of: {choices}[/]")
        decision = ToolCallDecision(tool_call_id=call.id, type=chosen)
        if chosen == EDIT:
            decision.args.CopyFrom(_edited(call, edit))
        elif chosen == REJECT:
            decision.message = prompt("why (the agent reads this)", "").strip()
        decisions.append(decision)
    return decisions


def _args_yaml(args: Struct) -> str:
    return yaml.safe_dump(MessageToDict(args), sort_keys=False, allow_unicode=True)


def _edited(call: ToolCall, edit: Editor) -> Struct:
    text = edit(_args_yaml(call.args))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CliError(f"the edited args are not YAML: {error}") from None
    if not isinstance(data, dict):
        raise CliError("the edited args must be a mapping of argument names to values")
    result = Struct()
    result.update(data)
    return result


def edit_in_editor(text: str) -> str:
    """Open $VISUAL or $EDITOR (vi) on `text`; what was saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "args.yaml"
        path.write_text(text, encoding="utf-8")
        completed = subprocess.run([*shlex.split(editor), str(path)], check=False)
        if completed.returncode != 0:
            raise CliError(f"the editor ({editor}) exited with {completed.returncode}")
        return path.read_text(encoding="utf-8")


def terminal_prompt(question: str, default: str) -> str:
    answer: str = typer.prompt(question, default=default, show_default=bool(default))
    return answer


# -- the commands -----------------------------------------------------------------------------


def approve_command(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="The execution id.")],
    calls: Annotated[
        list[str] | None,
        typer.Argument(help="Tool call ids to approve (default: every call that waits)."),
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="A note kept on the call.")] = "",
) -> None:
    """Approve tool calls that wait for approval; the turn goes on once all are decided."""
    resources = options(ctx).resources()
    current: Any = resources.find(EXECUTION, execution)
    ids = list(calls or []) or [call.id for call in waiting_calls(current)]
    if not ids:
        raise CliError(
            f"execution {execution} has no tool call waiting for approval",
            fix="list what waits with `stigmer pending`",
        )
    result = decide(
        resources,
        current.metadata.id,
        [ToolCallDecision(tool_call_id=i, type=APPROVE, message=message) for i in ids],
    )
    _report(Console(), result, ids, "approved")


def reject_command(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="The execution id.")],
    call: Annotated[str, typer.Argument(help="The tool call id.")],
    message: Annotated[
        str, typer.Option("--message", "-m", help="Why: the agent reads it as the tool's result.")
    ] = "",
) -> None:
    """Reject a tool call: it does not run, and the agent is told why."""
    resources = options(ctx).resources()
    current: Any = resources.find(EXECUTION, execution)
    result = decide(
        resources,
        current.metadata.id,
        [ToolCallDecision(tool_call_id=call, type=REJECT, message=message)],
    )
    _report(Console(), result, [call], "rejected")


def _report(console: Console, result: AgentExecution, ids: Sequence[str], verb: str) -> None:
    left = waiting_calls(result)
    console.print(f"{verb} {', '.join(ids)} in execution {result.metadata.id}")
    if left:
        console.print(f"still waiting: {', '.join(call.id for call in left)}")
    elif result.status.phase == ExecutionPhase.EXECUTION_AWAITING_APPROVAL:
        console.print("every call is decided: the turn goes on")


def pending_command(ctx: typer.Context) -> None:
    """List the tool calls that wait for approval, in every execution you can see."""
    resources = options(ctx).resources()
    rows = []
    for item in resources.list(EXECUTION):
        execution: Any = item
        if execution.status.phase != ExecutionPhase.EXECUTION_AWAITING_APPROVAL:
            continue
        for call in waiting_calls(execution):
            allowed = call.approval.allowed_decisions
            rows.append(
                (
                    execution.metadata.id,
                    call.id,
                    describe(call),
                    ",".join(_WORDS[d] for d in allowed if d in _WORDS),
                    _since(call),
                )
            )
    console = Console()
    if not rows:
        console.print("nothing waits for approval")
        return
    table = Table("EXECUTION", "CALL", "TOOL", "ALLOWED", "WAITING SINCE", box=None)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    console.print(
        "decide with: stigmer approve EXECUTION [CALL...] | stigmer reject EXECUTION "
        'CALL --message "..."'
    )


def _since(call: ToolCall) -> str:
    if not call.approval.HasField("requested_at"):
        return ""
    stamp = call.approval.requested_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")
    if call.approval.HasField("expires_at"):
        expires = call.approval.expires_at.ToDatetime().strftime("%H:%M:%S")
        return f"{stamp} (times out {expires})"
    return stamp
