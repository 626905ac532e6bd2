"""From the deep agent's stream to an `AgentExecutionStatus`, and from changes to deltas.

The builder consumes `astream(stream_mode=["messages", "updates", "tasks", "custom"],
subgraphs=True)` items and keeps the whole status. Every change marks the item it touched;
`take_delta()` turns the marked items into a delta (streamed text as `append` content, so
bytes grow linearly) and `commit()` clears the marks once the server has it. Marks carry a
version, so events arriving while an update is in flight stay marked for the next one.
Namespaces route events: `()` is the main agent, `("tools:<T>", ...)` the sub-agent started
by the `task` call that ran as pregel task `<T>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langgraph.types import StreamMode

from agent_runner.environment import Redactor
from agent_runner.status._changes import ChangeSet, Delta, Key
from agent_runner.status._tools import TASK_TOOL, TODOS_TOOL, args_struct, component, display_name
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
    Usage,
)
from stigmer_status import todo_key

MAIN = ""
_TODO_STATUS = {
    "pending": TodoStatus.TODO_PENDING,
    "in_progress": TodoStatus.TODO_IN_PROGRESS,
    "completed": TodoStatus.TODO_COMPLETED,
}


def now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


class StatusBuilder:
    def __init__(self, *, redact: Redactor, clock: Callable[[], Timestamp] = now) -> None:
        self.status = AgentExecutionStatus()
        self._redact = redact
        self._clock = clock
        self._changes = ChangeSet()
        self._raw: dict[Key, str] = {}
        self._messages: dict[tuple[str, str], AgentMessage] = {}
        self._tools: dict[tuple[str, str], ToolCall] = {}
        self._subs: dict[str, SubAgentExecution] = {}
        self._task_scope: dict[str, str] = {}  # pregel task id of a `task` call -> sub-agent id
        self._seen: set[tuple[str, ...]] = set()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, *, message_id: str, message: str, first_attempt: bool) -> None:
        self._set_phase(ExecutionPhase.EXECUTION_IN_PROGRESS)
        if first_attempt:
            self.status.started_at.CopyFrom(self._clock())
            self._mark("field", MAIN, "started_at")
        human = self._message(MAIN, message_id, MessageType.MESSAGE_HUMAN)
        self._set_content(("msg", MAIN, message_id), human, message, final=True)

    def finish(self, phase: ExecutionPhase.ValueType, error: str | None = None) -> None:
        for key in self._changes.stop_all_streaming():
            self._changes.mark(key)
        self._set_phase(phase)
        self.status.completed_at.CopyFrom(self._clock())
        self._mark("field", MAIN, "completed_at")
        if error is not None:
            self.status.error = self._redact(error)
            self._mark("field", MAIN, "error")
        for sub in self._subs.values():
            if (
                sub.phase == ExecutionPhase.EXECUTION_IN_PROGRESS
                and phase != ExecutionPhase.EXECUTION_COMPLETED
            ):
                sub.phase = phase
                sub.completed_at.CopyFrom(self._clock())
                self._mark("sub", sub.id, "")

    def record_error(self, error: str, *, final: bool) -> None:
        """A failed attempt: final ones end FAILED; a retryable one keeps the phase open."""
        if final:
            self.finish(ExecutionPhase.EXECUTION_FAILED, error)
            return
        self.status.error = self._redact(error)
        self._mark("field", MAIN, "error")

    def clear_error(self) -> None:
        """A retry starts clean: the previous attempt's error no longer describes the turn."""
        self.status.error = ""
        self._mark("field", MAIN, "error")

    def redact(self, text: str) -> str:
        return self._redact(text)

    def set_redactor(self, redact: Redactor) -> None:
        """The environment is known: text kept so far is redacted again with every secret."""
        self._redact = redact
        for key, raw in list(self._raw.items()):
            self._set_content(
                key,
                self._messages[(key[1], key[2])],
                raw,
                final=not self._changes.streaming(key),
            )

    def seed(self, messages: Sequence[BaseMessage], todos: Sequence[Mapping[str, Any]]) -> None:
        """A resumed attempt: what the checkpoint already holds of this turn."""
        for message in messages:
            if isinstance(message, HumanMessage):
                continue
            if isinstance(message, AIMessage):
                self._final_ai(MAIN, message)
            elif isinstance(message, ToolMessage):
                self._tool_result(MAIN, message)
        if todos:
            self._todos(todos)

    # -- the stream -----------------------------------------------------------------------

    def handle(self, namespace: Sequence[str], mode: str, payload: Any) -> bool:
        """Apply one stream item; True when it deserves an immediate flush."""
        scope = self._scope(namespace)
        if mode == "messages":
            message, _meta = payload
            return self._on_message(scope, message)
        if mode == "updates":
            return self._on_updates(scope, payload)
        if mode == "tasks":
            return self._on_task(scope, payload)
        return False

    def _scope(self, namespace: Sequence[str]) -> str:
        if not namespace:
            return MAIN
        task_id = namespace[0].partition(":")[2]
        return self._task_scope.get(task_id, MAIN)

    def _on_message(self, scope: str, message: BaseMessage) -> bool:
        if isinstance(message, AIMessageChunk):
            text = message.text
            if text and message.id:
                key = ("msg", scope, message.id)
                target = self._message(scope, message.id, MessageType.MESSAGE_AI)
                self._changes.start_streaming(key)
                self._set_content(key, target, self._raw.get(key, "") + text, final=False)
            return False
        if isinstance(message, ToolMessage):
            return self._tool_result(scope, message)
        if isinstance(message, AIMessage):
            return self._final_ai(scope, message)
        return False

    def _on_updates(self, scope: str, payload: Any) -> bool:
        if not isinstance(payload, Mapping):
            return False
        immediate = False
        for node, update in payload.items():
            if not isinstance(update, Mapping):
                continue
            for message in update.get("messages") or ():
                if isinstance(message, AIMessage) and node == "model":
                    immediate |= self._final_ai(scope, message)
                elif isinstance(message, ToolMessage):
                    immediate |= self._tool_result(scope, message)
            if scope == MAIN and "todos" in update and update["todos"] is not None:
                immediate |= self._todos(update["todos"])
        return immediate

    def _on_task(self, scope: str, payload: Mapping[str, Any]) -> bool:
        if payload.get("name") != "tools":
            return False
        task_id = str(payload["id"])
        if "input" in payload:
            immediate = False
            for call in payload["input"] or ():
                immediate |= self._tool_started(scope, task_id, call)
            return immediate
        return self._task_finished(scope, task_id, payload.get("error"), payload.get("result"))

    # -- items ----------------------------------------------------------------------------

    def _final_ai(self, scope: str, message: AIMessage) -> bool:
        if not message.id or not self._first(("ai", scope, message.id)):
            return False
        calls = [c for c in message.tool_calls if c["name"] != TODOS_TOOL]
        key = ("msg", scope, message.id)
        text = message.text
        if text or calls:
            target = self._message(scope, message.id, MessageType.MESSAGE_AI)
            self._set_content(key, target, text, final=True)
            del target.tool_calls[:]
            for call in calls:
                target.tool_calls.append(self._call_request(scope, call))
            for call in calls:
                self._tool(scope, call)
        usage = message.usage_metadata
        if usage:
            self._add_usage(scope, message.id if (text or calls) else None, usage)
        return bool(calls)

    def _call_request(self, scope: str, call: Mapping[str, Any]) -> ToolCall:
        args = call.get("args") or {}
        return ToolCall(
            id=str(call["id"]),
            name=call["name"],
            display_name=display_name(call["name"], args, self._redact),
            args=args_struct(args, self._redact),
            component=component(call["name"], args, self._redact),
            namespace=self._namespace(scope),
        )

    def _tool(self, scope: str, call: Mapping[str, Any]) -> ToolCall:
        call_id = str(call["id"])
        tool = self._tools.get((scope, call_id))
        if tool is None:
            tool = self._container(scope).tool_calls.add()
            tool.CopyFrom(self._call_request(scope, call))
            tool.status = ToolCallStatus.TOOL_CALL_PENDING
            self._tools[(scope, call_id)] = tool
            self._mark("tool", scope, call_id)
        return tool

    def _tool_started(self, scope: str, task_id: str, call: Mapping[str, Any]) -> bool:
        if call.get("name") == TODOS_TOOL or not self._first(("start", scope, str(call["id"]))):
            return False
        tool = self._tool(scope, call)
        if tool.status == ToolCallStatus.TOOL_CALL_PENDING:
            tool.status = ToolCallStatus.TOOL_CALL_RUNNING
            tool.started_at.CopyFrom(self._clock())
            self._mark("tool", scope, tool.id)
        if call.get("name") == TASK_TOOL and scope == MAIN:
            args = call.get("args") or {}
            self._task_scope[task_id] = tool.id
            sub = self._subs.get(tool.id)
            if sub is None:
                sub = self.status.sub_agent_executions.add(id=tool.id)
                self._subs[tool.id] = sub
            sub.name = str(args.get("subagent_type", ""))
            sub.input = self._redact(str(args.get("description", "")))
            sub.phase = ExecutionPhase.EXECUTION_IN_PROGRESS
            sub.started_at.CopyFrom(tool.started_at)
            self._mark("sub", sub.id, "")
        return True

    def _task_finished(self, scope: str, task_id: str, error: Any, result: Any) -> bool:
        immediate = False
        if isinstance(result, Mapping):
            for message in result.get("messages") or ():
                if isinstance(message, ToolMessage):
                    immediate |= self._tool_result(scope, message)
        if error is not None:
            sub_id = self._task_scope.get(task_id)
            for (tool_scope, call_id), tool in self._tools.items():
                running = tool.status == ToolCallStatus.TOOL_CALL_RUNNING
                if tool_scope == scope and running and (sub_id is None or call_id == sub_id):
                    self._fail(scope, tool, f"{type(error).__name__}: {error}")
                    immediate = True
        return immediate

    def _tool_result(self, scope: str, message: ToolMessage) -> bool:
        call_id = message.tool_call_id
        if not self._first(("result", scope, call_id)) or message.name == TODOS_TOOL:
            return False
        text = self._redact(message.text)
        tool = self._tool(scope, {"id": call_id, "name": message.name or "", "args": {}})
        artifact = message.artifact if isinstance(message.artifact, Mapping) else {}
        failed = message.status == "error" or artifact.get("exit_code") not in (0, None)
        tool.result = text
        if failed:
            self._fail(scope, tool, text)
        else:
            tool.status = ToolCallStatus.TOOL_CALL_COMPLETED
            tool.completed_at.CopyFrom(self._clock())
            self._mark("tool", scope, call_id)
            sub = self._subs.get(call_id) if scope == MAIN else None
            if sub is not None:
                sub.phase = ExecutionPhase.EXECUTION_COMPLETED
                sub.result = text
                sub.completed_at.CopyFrom(tool.completed_at)
                self._mark("sub", sub.id, "")
        result_id = message.id or f"{call_id}-result"
        target = self._message(scope, result_id, MessageType.MESSAGE_TOOL)
        target.tool_call_id = call_id
        self._set_content(("msg", scope, result_id), target, text, final=True, redacted=True)
        return True

    def _fail(self, scope: str, tool: ToolCall, error: str) -> None:
        tool.status = ToolCallStatus.TOOL_CALL_FAILED
        tool.error = self._redact(error)
        tool.completed_at.CopyFrom(self._clock())
        self._mark("tool", scope, tool.id)
        sub = self._subs.get(tool.id) if scope == MAIN else None
        if sub is not None:
            sub.phase = ExecutionPhase.EXECUTION_FAILED
            sub.error = tool.error
            sub.completed_at.CopyFrom(tool.completed_at)
            self._mark("sub", sub.id, "")

    def _todos(self, items: Sequence[Mapping[str, Any]]) -> bool:
        changed = False
        wanted: dict[str, Todo] = {}
        for position, item in enumerate(items):
            key = todo_key(position)
            wanted[key] = Todo(
                id=key,
                content=self._redact(str(item.get("content", ""))),
                status=_TODO_STATUS.get(str(item.get("status")), TodoStatus.TODO_PENDING),
            )
        for key in set(self.status.todos) - set(wanted):
            if self.status.todos[key].status != TodoStatus.TODO_CANCELLED:
                wanted[key] = Todo(
                    id=key, content=self.status.todos[key].content, status=TodoStatus.TODO_CANCELLED
                )
        for key, todo in wanted.items():
            if key not in self.status.todos or self.status.todos[key] != todo:
                self.status.todos[key].CopyFrom(todo)
                self._mark("todo", MAIN, key)
                changed = True
        return changed

    def _add_usage(self, scope: str, message_id: str | None, usage: Mapping[str, Any]) -> None:
        step = Usage(
            input_tokens=int(usage.get("input_tokens", 0)),
            output_tokens=int(usage.get("output_tokens", 0)),
            total_tokens=int(usage.get("total_tokens", 0)),
        )
        targets = [self.status.usage]
        if scope != MAIN:
            targets.append(self._subs[scope].usage)
            self._mark("sub", scope, "")
        for target in targets:
            target.input_tokens += step.input_tokens
            target.output_tokens += step.output_tokens
            target.total_tokens += step.total_tokens
        self._mark("field", MAIN, "usage")
        if message_id is not None:
            self._messages[(scope, message_id)].usage.CopyFrom(step)
            self._mark("msg", scope, message_id)

    # -- plumbing -------------------------------------------------------------------------

    def _first(self, fingerprint: tuple[str, ...]) -> bool:
        """Duplicate events (the same result in `messages`, `updates` and `tasks`) count once."""
        if fingerprint in self._seen:
            return False
        self._seen.add(fingerprint)
        return True

    def _namespace(self, scope: str) -> str:
        return self._subs[scope].name if scope != MAIN else ""

    def _container(self, scope: str) -> AgentExecutionStatus | SubAgentExecution:
        return self.status if scope == MAIN else self._subs[scope]

    def _message(self, scope: str, message_id: str, kind: MessageType.ValueType) -> AgentMessage:
        message = self._messages.get((scope, message_id))
        if message is None:
            message = self._container(scope).messages.add(
                id=message_id, type=kind, namespace=self._namespace(scope)
            )
            message.created_at.CopyFrom(self._clock())
            self._messages[(scope, message_id)] = message
            self._mark("msg", scope, message_id)
        return message

    def _set_content(
        self, key: Key, target: AgentMessage, raw: str, *, final: bool, redacted: bool = False
    ) -> None:
        self._raw[key] = raw
        content = raw if redacted else self._redact(raw)
        self._changes.text_changed(key, target.content, content)
        # A message that stops streaming must release the tail it held back, even unchanged.
        released = final and self._changes.stop_streaming(key)
        if content != target.content or released:
            target.content = content
            self._mark(*key)

    def _set_phase(self, phase: ExecutionPhase.ValueType) -> None:
        self.status.phase = phase
        self._mark("field", MAIN, "phase")

    def _mark(self, kind: str, scope: str, item: str) -> int:
        return self._changes.mark((kind, scope, item))

    # -- deltas ---------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return self._changes.pending

    def take_delta(self) -> Delta | None:
        if not self._changes.pending:
            return None
        versions = self._changes.snapshot()
        delta = AgentExecutionStatus()
        sent: dict[Key, int] = {}
        subs: dict[str, SubAgentExecution] = {}

        def container(scope: str) -> AgentExecutionStatus | SubAgentExecution:
            if scope == MAIN:
                return delta
            if scope not in subs:
                subs[scope] = delta.sub_agent_executions.add(id=scope)
            return subs[scope]

        for key in versions:
            kind, scope, item = key
            if kind == "field":
                delta.MergeFrom(_only_field(self.status, item))
            elif kind == "todo":
                delta.todos[item].CopyFrom(self.status.todos[item])
            elif kind == "tool":
                container(scope).tool_calls.append(self._tools[(scope, item)])
            elif kind == "sub":
                sub = container(scope)
                stored: Any = self._subs[scope]
                for name in _SUB_FIELDS:
                    if name not in _OPTIONAL_SUB or stored.HasField(name):
                        _copy_field(stored, sub, name)
            elif kind == "msg":
                out = container(scope).messages.add()
                out.CopyFrom(self._messages[(scope, item)])
                sent[key] = self._message_delta(key, out)
        return Delta(status=delta, versions=versions, sent=sent)

    def _message_delta(self, key: Key, out: AgentMessage) -> int:
        piece = self._changes.text_slice(key, out.content, self._redact.partial_prefix(out.content))
        out.content = piece.content
        out.append = piece.append
        return piece.end

    def commit(self, delta: Delta) -> None:
        self._changes.acknowledge(delta)

    def final_status(self) -> AgentExecutionStatus:
        final = AgentExecutionStatus()
        final.CopyFrom(self.status)
        return final


_SUB_FIELDS = ("name", "input", "phase", "result", "error", "started_at", "completed_at", "usage")
_OPTIONAL_SUB = frozenset({"phase", "error", "started_at", "completed_at", "usage"})


def _copy_field(source: Any, target: Any, name: str) -> None:
    value = getattr(source, name)
    if hasattr(value, "CopyFrom"):
        getattr(target, name).CopyFrom(value)
    else:
        setattr(target, name, value)


def _only_field(status: AgentExecutionStatus, name: str) -> AgentExecutionStatus:
    part = AgentExecutionStatus()
    _copy_field(status, part, name)
    return part


STREAM_MODES: tuple[StreamMode, ...] = ("messages", "updates", "tasks", "custom")
