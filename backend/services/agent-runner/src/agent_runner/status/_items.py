"""The status of a turn as items: messages, tool calls, sub-agent executions, todos, usage.

Each method applies one thing that happened (a reply, a tool starting or ending, a todo list)
to the whole `AgentExecutionStatus` and marks the items it touched, for the next delta. The
rules are docs/architecture/status-building.md's table; which event calls which method is
`_routing.py`'s business. `scope` names the agent: `MAIN`, or a sub-agent execution's id
(the id of the `task` tool call that started it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from langchain_core.messages import AIMessage, ToolMessage

from agent_runner.status._bounds import bounded
from agent_runner.status._changes import ChangeSet, Key
from agent_runner.status._text import MessageTexts
from agent_runner.status._tools import (
    TASK_TOOL,
    TODOS_TOOL,
    UNKNOWN_SUBAGENT_PREFIX,
    args_struct,
    component,
    display_name,
)
from agent_runner.status._usage import MAIN, UsageLedger, usage_of
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
    ToolCallApproval,
    Usage,
)
from stigmer_status import todo_key

_TODO_STATUS = {
    "pending": TodoStatus.TODO_PENDING,
    "in_progress": TodoStatus.TODO_IN_PROGRESS,
    "completed": TodoStatus.TODO_COMPLETED,
}
Clock = Callable[[], Timestamp]


class StatusItems:
    def __init__(self, *, texts: MessageTexts, changes: ChangeSet, clock: Clock) -> None:
        self.status = AgentExecutionStatus()
        self._texts = texts
        self._changes = changes
        self._clock = clock
        self.messages: dict[tuple[str, str], AgentMessage] = {}
        self.tools: dict[tuple[str, str], ToolCall] = {}
        self.subs: dict[str, SubAgentExecution] = {}
        self._task_calls: dict[str, list[tuple[str, str]]] = {}  # pregel task -> its calls
        self._task_scope: dict[str, str] = {}  # pregel task of a `task` call -> sub-agent id
        self._usage = UsageLedger()
        # Approval: where each interrupt surfaced first, and the calls a person rejected.
        self.interrupt_scopes: dict[str, str] = {}
        self.rejected: set[str] = set()

    # -- the turn's own fields ------------------------------------------------------------

    def mark(self, kind: str, scope: str, item: str) -> None:
        self._changes.mark((kind, scope, item))

    def set_phase(self, phase: ExecutionPhase.ValueType) -> None:
        self.status.phase = phase
        self.mark("field", MAIN, "phase")

    def stamp(self, field: str) -> None:
        getattr(self.status, field).CopyFrom(self._clock())
        self.mark("field", MAIN, field)

    def set_error(self, error: str) -> None:
        self.status.error = self._texts.redact(error) if error else ""
        self.mark("field", MAIN, "error")

    def end_open_sub_agents(self, phase: ExecutionPhase.ValueType) -> None:
        """The turn ended while sub-agents were still running: they end with it."""
        for sub in self.subs.values():
            if sub.phase == ExecutionPhase.EXECUTION_IN_PROGRESS:
                sub.phase = phase
                sub.completed_at.CopyFrom(self._clock())
                self.mark("sub", sub.id, "")

    def scope_of(self, task_id: str) -> str:
        """The sub-agent a pregel task's namespace belongs to (MAIN when none)."""
        return self._task_scope.get(task_id, MAIN)

    # -- messages -------------------------------------------------------------------------

    def message_of(self, key: Key) -> AgentMessage:
        return self.messages[(key[1], key[2])]

    def human(self, message_id: str, text: str) -> None:
        target = self._message(MAIN, message_id, MessageType.MESSAGE_HUMAN)
        self._texts.set(("msg", MAIN, message_id), target, text, final=True)

    def ai_chunk(self, scope: str, message_id: str, text: str) -> None:
        target = self._message(scope, message_id, MessageType.MESSAGE_AI)
        self._texts.extend(("msg", scope, message_id), target, text)

    def ai_reply(
        self, scope: str, message_id: str, message: AIMessage, *, seeded: bool = False
    ) -> bool:
        """A finished reply; True when it calls tools. `seeded`: read from the checkpoint."""
        calls = [c for c in message.tool_calls if c["name"] != TODOS_TOOL]
        text = message.text
        shown = bool(text or calls)
        if shown:
            target = self._message(scope, message_id, MessageType.MESSAGE_AI)
            self._texts.set(("msg", scope, message_id), target, text, final=True)
            del target.tool_calls[:]
            for call in calls:
                target.tool_calls.append(self._call_request(scope, call))
            for call in calls:
                self._tool(scope, call)
        if message.usage_metadata:
            step = usage_of(message.usage_metadata)
            self._count_usage(scope, message_id, step, shown=shown, seeded=seeded)
        return bool(calls)

    def _message(self, scope: str, message_id: str, kind: MessageType.ValueType) -> AgentMessage:
        message = self.messages.get((scope, message_id))
        if message is None:
            message = self._container(scope).messages.add(
                id=message_id, type=kind, namespace=self._namespace(scope)
            )
            message.created_at.CopyFrom(self._clock())
            self.messages[(scope, message_id)] = message
            self.mark("msg", scope, message_id)
        return message

    # -- tool calls -----------------------------------------------------------------------

    def tool_started(self, scope: str, task_id: str, call: Mapping[str, Any]) -> bool:
        if call.get("name") == TODOS_TOOL:
            return False
        tool = self._tool(scope, call)
        self._task_calls.setdefault(task_id, []).append((scope, tool.id))
        if tool.status == ToolCallStatus.TOOL_CALL_PENDING:
            tool.status = ToolCallStatus.TOOL_CALL_RUNNING
            tool.started_at.CopyFrom(self._clock())
            self.mark("tool", scope, tool.id)
        if call.get("name") == TASK_TOOL and scope == MAIN:
            self._task_scope[task_id] = tool.id
            self._sub_started(tool, call.get("args") or {})
        return True

    def task_failed(self, task_id: str, error: BaseException) -> bool:
        """A pregel task raised: its own calls fail, not the ones running beside it.

        The exception aborts the run, so how a sub-agent it ran ends is the turn's outcome:
        a final failure ends it with the turn (`end_open_sub_agents`), a retry resumes it. Its
        phase stays open meanwhile, since a stored final phase could never move again.
        """
        failed = False
        for scope, call_id in self._task_calls.get(task_id, ()):
            tool = self.tools[(scope, call_id)]
            if tool.status == ToolCallStatus.TOOL_CALL_RUNNING:
                self._fail(scope, tool, f"{type(error).__name__}: {error}", ends_sub=False)
                failed = True
        return failed

    def tool_result(self, scope: str, message: ToolMessage) -> bool:
        if message.name == TODOS_TOOL:
            return False
        call_id = message.tool_call_id
        text = bounded(self._texts.redact(message.text))
        tool = self._tool(scope, {"id": call_id, "name": message.name or "", "args": {}})
        tool.result = text
        if call_id in self.rejected:
            # Not a failure: the call never ran because a person (or a timeout) said no.
            tool.status = ToolCallStatus.TOOL_CALL_REJECTED
            tool.completed_at.CopyFrom(self._clock())
            self.mark("tool", scope, call_id)
        elif _failed(tool, message, text):
            self._fail(scope, tool, text)
        else:
            tool.status = ToolCallStatus.TOOL_CALL_COMPLETED
            tool.completed_at.CopyFrom(self._clock())
            self.mark("tool", scope, call_id)
            self._sub_ended(scope, tool, ExecutionPhase.EXECUTION_COMPLETED, result=text)
        result_id = message.id or f"{call_id}-result"
        target = self._message(scope, result_id, MessageType.MESSAGE_TOOL)
        target.tool_call_id = call_id
        self._texts.set(("msg", scope, result_id), target, text, final=True, redacted=True)
        return True

    def open_calls(self, scope: str) -> list[tuple[str, str]]:
        """(id, name) of the agent's calls that have not started, oldest first."""
        waiting = (ToolCallStatus.TOOL_CALL_PENDING, ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL)
        return [
            (tool.id, tool.name)
            for (tool_scope, _), tool in self.tools.items()
            if tool_scope == scope and tool.status in waiting
        ]

    def awaiting(self, scope: str, call: Mapping[str, Any], approval: ToolCallApproval) -> None:
        """The call waits for a person's decision."""
        tool = self._tool(scope, call)
        tool.status = ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL
        tool.approval.CopyFrom(approval)
        self.mark("tool", scope, tool.id)

    def _call_request(self, scope: str, call: Mapping[str, Any]) -> ToolCall:
        args = call.get("args") or {}
        redact = self._texts.redact
        return ToolCall(
            id=str(call["id"]),
            name=call["name"],
            display_name=bounded(display_name(call["name"], args, redact)),
            args=args_struct(args, redact),
            component=component(call["name"], args, redact),
            namespace=self._namespace(scope),
        )

    def _tool(self, scope: str, call: Mapping[str, Any]) -> ToolCall:
        call_id = str(call["id"])
        tool = self.tools.get((scope, call_id))
        if tool is None:
            tool = self._container(scope).tool_calls.add()
            tool.CopyFrom(self._call_request(scope, call))
            tool.status = ToolCallStatus.TOOL_CALL_PENDING
            self.tools[(scope, call_id)] = tool
            self.mark("tool", scope, call_id)
        return tool

    def _fail(self, scope: str, tool: ToolCall, error: str, *, ends_sub: bool = True) -> None:
        tool.status = ToolCallStatus.TOOL_CALL_FAILED
        tool.error = self._texts.redact(error)
        tool.completed_at.CopyFrom(self._clock())
        self.mark("tool", scope, tool.id)
        sub = self.subs.get(tool.id) if scope == MAIN else None
        if sub is not None and not ends_sub:
            sub.error = tool.error
            self.mark("sub", sub.id, "")
        elif ends_sub:
            self._sub_ended(scope, tool, ExecutionPhase.EXECUTION_FAILED, error=tool.error)

    # -- sub-agent executions -------------------------------------------------------------

    def _sub_started(self, tool: ToolCall, args: Mapping[str, Any]) -> None:
        sub = self.subs.get(tool.id)
        if sub is None:
            sub = self.status.sub_agent_executions.add(id=tool.id)
            self.subs[tool.id] = sub
        sub.name = str(args.get("subagent_type", ""))
        sub.input = self._texts.redact(str(args.get("description", "")))
        sub.phase = ExecutionPhase.EXECUTION_IN_PROGRESS
        # Sent empty on purpose: an earlier attempt's error no longer describes a resumed one.
        sub.error = ""
        sub.started_at.CopyFrom(tool.started_at)
        usage = self._usage.sub_total(sub.id)
        if usage.total_tokens:  # what an earlier attempt of this sub-agent already spent
            sub.usage.CopyFrom(usage)
        self.mark("sub", sub.id, "")

    def _sub_ended(
        self,
        scope: str,
        tool: ToolCall,
        phase: ExecutionPhase.ValueType,
        *,
        result: str = "",
        error: str = "",
    ) -> None:
        sub = self.subs.get(tool.id) if scope == MAIN else None
        if sub is None:
            return
        sub.phase = phase
        if result:
            sub.result = result
        if error:
            sub.error = error
        sub.completed_at.CopyFrom(tool.completed_at)
        self.mark("sub", sub.id, "")

    # -- todos ----------------------------------------------------------------------------

    def todos(self, items: Sequence[Mapping[str, Any]]) -> bool:
        """The latest `write_todos` list; keys missing from a shorter list are cancelled."""
        wanted: dict[str, Todo] = {}
        for position, item in enumerate(items):
            key = todo_key(position)
            wanted[key] = Todo(
                id=key,
                content=self._texts.redact(str(item.get("content", ""))),
                status=_TODO_STATUS.get(str(item.get("status")), TodoStatus.TODO_PENDING),
            )
        for key in set(self.status.todos) - set(wanted):
            if self.status.todos[key].status != TodoStatus.TODO_CANCELLED:
                wanted[key] = Todo(
                    id=key, content=self.status.todos[key].content, status=TodoStatus.TODO_CANCELLED
                )
        changed = False
        for key, todo in wanted.items():
            if key not in self.status.todos or self.status.todos[key] != todo:
                self.status.todos[key].CopyFrom(todo)
                self.mark("todo", MAIN, key)
                changed = True
        return changed

    # -- usage ----------------------------------------------------------------------------

    def seed_usage(self, stored: AgentExecutionStatus) -> None:
        self._usage.seed(stored)
        self.status.usage.CopyFrom(self._usage.total())
        self.mark("field", MAIN, "usage")

    def _count_usage(
        self, scope: str, message_id: str, step: Usage, *, shown: bool, seeded: bool
    ) -> None:
        if shown:
            self.messages[(scope, message_id)].usage.CopyFrom(step)
            self.mark("msg", scope, message_id)
        if not self._usage.count(scope, message_id, step, seeded_hidden=seeded and not shown):
            return
        self.status.usage.CopyFrom(self._usage.total())
        self.mark("field", MAIN, "usage")
        if scope != MAIN:
            self.subs[scope].usage.CopyFrom(self._usage.sub_total(scope))
            self.mark("sub", scope, "")

    # -- plumbing -------------------------------------------------------------------------

    def _namespace(self, scope: str) -> str:
        return self.subs[scope].name if scope != MAIN else ""

    def _container(self, scope: str) -> AgentExecutionStatus | SubAgentExecution:
        return self.status if scope == MAIN else self.subs[scope]


def _failed(tool: ToolCall, message: ToolMessage, text: str) -> bool:
    # A failed `execute` is not `status="error"`: its exit code says it. A `task` naming a
    # sub-agent that does not exist is answered with deepagents' error text, also "success".
    artifact = message.artifact if isinstance(message.artifact, Mapping) else {}
    return (
        message.status == "error"
        or artifact.get("exit_code") not in (0, None)
        or (tool.name == TASK_TOOL and text.startswith(UNKNOWN_SUBAGENT_PREFIX))
    )
