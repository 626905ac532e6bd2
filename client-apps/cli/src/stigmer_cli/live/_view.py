"""An AgentExecution as terminal output: text, tool calls, todos, sub-agents, outcome.

Pure rendering from the proto: the same function draws every frame of the live view and
the final one, so a recorded event sequence gives the same output anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    TodoStatus,
    ToolCallStatus,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    SubAgentExecution,
    Todo,
    ToolCall,
)
from stigmer_status import is_final

_TODO_TOOL = "write_todos"
_TASK_TOOL = "task"
_TODO_MARKS = {
    TodoStatus.TODO_COMPLETED: ("[x]", "green"),
    TodoStatus.TODO_IN_PROGRESS: ("[>]", "bold yellow"),
    TodoStatus.TODO_CANCELLED: ("[-]", "dim strike"),
}
_RESULT_PREVIEW = 160
_DECIDED = {
    ApprovalDecisionType.APPROVAL_DECISION_APPROVE: "approved",
    ApprovalDecisionType.APPROVAL_DECISION_EDIT: "edited",
    ApprovalDecisionType.APPROVAL_DECISION_REJECT: "rejected",
}


@dataclass(frozen=True)
class _Scope:
    """What every part of one frame needs: the sub-agent runs, and whether the turn ended."""

    sub_agents: Sequence[SubAgentExecution]
    ended: bool


def render_execution(execution: AgentExecution) -> RenderableType:
    status = execution.status
    scope = _Scope(status.sub_agent_executions, is_final(status.phase))
    parts: list[RenderableType] = []
    parts += _conversation(status.messages, status.tool_calls, scope, namespace="")
    if status.todos:
        parts.append(_todos(status.todos.values()))
    parts.append(_outcome(status))
    return Group(*parts)


def _conversation(
    messages: Sequence[AgentMessage],
    tool_calls: Sequence[ToolCall],
    scope: _Scope,
    namespace: str,
) -> list[RenderableType]:
    """Messages in order; each tool call where the AI asked for it, with its current state."""
    calls = {call.id: call for call in tool_calls if call.namespace == namespace}
    placed: set[str] = set()
    parts: list[RenderableType] = []
    for message in messages:
        if message.namespace != namespace:
            continue
        if message.type == MessageType.MESSAGE_HUMAN and not namespace:
            parts.append(Text.assemble(("> ", "bold cyan"), (message.content, "cyan")))
        elif message.type == MessageType.MESSAGE_AI:
            if message.content.strip():
                parts.append(Text(message.content.strip()))
            for requested in message.tool_calls:
                call = calls.get(requested.id, requested)
                placed.add(requested.id)
                parts += _tool_call(call, scope)
    for call_id, call in calls.items():
        if call_id not in placed:
            parts += _tool_call(call, scope)
    return parts


def _tool_call(call: ToolCall, scope: _Scope) -> list[RenderableType]:
    if call.name == _TODO_TOOL:
        return []  # shown as the checklist instead
    if call.name == _TASK_TOOL:
        sub = next((s for s in scope.sub_agents if s.id == call.id), None)
        if sub is not None:
            return [_sub_agent(sub, call, scope)]
    label = _label(call)
    if call.status == ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL:
        if call.approval.decision:
            verdict = _DECIDED.get(call.approval.decision, "decided")
            return [Text.assemble(("? ", "bold cyan"), label, (f"  ({verdict})", "cyan"))]
        note = (
            "  (did not get a decision)" if scope.ended else f"  (waiting for approval: {call.id})"
        )
        return [Text.assemble(("? ", "bold cyan"), label, (note, "bold cyan"))]
    if call.status == ToolCallStatus.TOOL_CALL_REJECTED:
        reason = call.approval.message or "rejected"
        return [
            Text.assemble(("⊘ ", "bold magenta"), label, (f"  {_first_line(reason)}", "magenta"))
        ]
    if call.status in (ToolCallStatus.TOOL_CALL_PENDING, ToolCallStatus.TOOL_CALL_RUNNING):
        if scope.ended:
            # The turn ended (cancelled, failed) while the call ran: it never finished.
            return [Text.assemble(("- ", "bold yellow"), label, ("  (did not finish)", "yellow"))]
        return [Spinner("dots", text=label, style="yellow")]
    if call.status == ToolCallStatus.TOOL_CALL_FAILED:
        reason = _last_line(call.error if call.HasField("error") else call.result)
        return [Text.assemble(("✗ ", "bold red"), label, (f"  {reason}", "red"))]
    return [Text.assemble(("✓ ", "bold green"), label)]


def _label(call: ToolCall) -> Text:
    shown = call.display_name.strip().removeprefix(call.name + " ").strip()
    if not shown or shown == call.name:
        return Text(call.name, style="bold")
    return Text.assemble((call.name, "bold"), " ", (_first_line(shown), "dim"))


def _sub_agent(sub: SubAgentExecution, call: ToolCall, scope: _Scope) -> RenderableType:
    header = Text.assemble(
        ("sub-agent ", "bold magenta"), (sub.name or "?", "bold"), ": ", _first_line(sub.input)
    )
    phase = sub.phase if sub.HasField("phase") else ExecutionPhase.EXECUTION_IN_PROGRESS
    head: RenderableType
    if phase == ExecutionPhase.EXECUTION_FAILED or call.status == ToolCallStatus.TOOL_CALL_FAILED:
        head = Text.assemble(("✗ ", "bold red"), header)
    elif is_final(phase) or call.status == ToolCallStatus.TOOL_CALL_COMPLETED:
        head = Text.assemble(("✓ ", "bold green"), header)
    elif scope.ended:
        head = Text.assemble(("- ", "bold yellow"), header, ("  (did not finish)", "yellow"))
    else:
        head = Spinner("dots", text=header, style="magenta")
    inner = _Scope(sub_agents=(), ended=scope.ended)
    body = _conversation(sub.messages, sub.tool_calls, inner, namespace=sub.name)
    if sub.HasField("error"):
        body.append(Text(f"error: {_first_line(sub.error)}", style="red"))
    return Group(head, Padding(Group(*body), (0, 0, 0, 4))) if body else head


def _todos(todos: Iterable[Todo]) -> RenderableType:
    table = Table.grid(padding=(0, 1))
    table.add_column()
    table.add_column()
    ordered = sorted(todos, key=lambda todo: _position(todo.id))
    for todo in ordered:
        mark, style = _TODO_MARKS.get(todo.status, ("[ ]", ""))
        table.add_row(Text(mark, style=style), Text(todo.content, style=style))
    return Group(Text("Todos", style="bold underline"), Padding(table, (0, 0, 0, 2)))


def _position(key: str) -> tuple[int, str]:
    _, _, number = key.rpartition("-")
    return (int(number), key) if number.isdigit() else (1 << 30, key)


def _outcome(status: AgentExecutionStatus) -> RenderableType:
    phase = status.phase if status.HasField("phase") else ExecutionPhase.EXECUTION_PENDING
    facts = _facts(status)
    if phase == ExecutionPhase.EXECUTION_COMPLETED:
        return Text.assemble(("completed", "bold green"), facts)
    if phase == ExecutionPhase.EXECUTION_FAILED:
        return Text.assemble(("failed", "bold red"), facts, (f"\n{status.error}", "red"))
    if phase == ExecutionPhase.EXECUTION_CANCELLED:
        return Text.assemble(("cancelled", "bold yellow"), facts)
    if phase == ExecutionPhase.EXECUTION_AWAITING_APPROVAL:
        return Text("waiting for approval (stigmer approve / stigmer reject)", style="bold cyan")
    word = "waiting for a runner" if phase == ExecutionPhase.EXECUTION_PENDING else "working"
    return Spinner("dots", text=Text(word, style="dim"))


def _facts(status: AgentExecutionStatus) -> str:
    facts = []
    if status.HasField("started_at") and status.HasField("completed_at"):
        seconds = status.completed_at.ToMilliseconds() - status.started_at.ToMilliseconds()
        facts.append(f"in {seconds / 1000:.1f}s")
    if status.usage.total_tokens:
        facts.append(f"{status.usage.total_tokens} tokens")
    return f" ({', '.join(facts)})" if facts else ""


def _last_line(text: str) -> str:
    """Tool output ends with its verdict (`[Command failed with exit code 3]`): show that."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _first_line(lines[-1]) if lines else ""


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= _RESULT_PREVIEW else line[: _RESULT_PREVIEW - 3] + "..."
