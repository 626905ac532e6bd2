"""From LangGraph stream items to status changes: which event means what, and for which agent.

The input is `astream(stream_mode=STREAM_MODES, subgraphs=True)`: `(namespace, mode,
payload)`. Namespaces name the agent: `()` is the main agent, `("tools:<T>", ...)` the
sub-agent started by the `task` call that ran as pregel task `<T>`. The same result arrives
up to three times (`messages`, `updates`, a task's `result`) and a resumed attempt can see a
step again, so every item-level event is fingerprinted and counts once; streamed tokens are
not (a repeated token cannot be told from new text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langgraph.types import StreamMode

from agent_runner.status._items import StatusItems
from agent_runner.status._usage import MAIN

STREAM_MODES: tuple[StreamMode, ...] = ("messages", "updates", "tasks", "custom")
# The metadata langchain's summarization middleware gives its own model calls.
_INTERNAL_SUMMARY = "summarization"


class StreamRouter:
    def __init__(self, items: StatusItems) -> None:
        self._items = items
        self._seen: set[tuple[str, ...]] = set()

    def handle(self, namespace: Sequence[str], mode: str, payload: Any) -> bool:
        """Apply one stream item; True when it deserves an immediate flush."""
        scope = self._scope(namespace)
        if mode == "messages":
            message, meta = payload
            if isinstance(meta, Mapping) and meta.get("lc_source") == _INTERNAL_SUMMARY:
                # deepagents' summarization asks the model for a summary inside the model
                # node: its tokens stream like a reply's but belong to no message.
                return False
            return self._message(scope, message)
        if mode == "updates":
            return self._updates(scope, payload)
        if mode == "tasks":
            return self._task(scope, payload)
        return False  # `custom`: nothing of ours uses it yet

    def seed(self, messages: Sequence[BaseMessage], todos: Sequence[Mapping[str, Any]]) -> None:
        """A resumed attempt: what the checkpoint already holds of this turn."""
        for message in messages:
            if isinstance(message, AIMessage):
                self._reply(MAIN, message, seeded=True)
            elif isinstance(message, ToolMessage):
                self._result(MAIN, message)
        if todos:
            self._items.todos(todos)

    def _scope(self, namespace: Sequence[str]) -> str:
        if not namespace:
            return MAIN
        return self._items.scope_of(namespace[0].partition(":")[2])

    def _message(self, scope: str, message: BaseMessage) -> bool:
        if isinstance(message, AIMessageChunk):
            text = message.text
            if text and message.id:
                self._items.ai_chunk(scope, message.id, text)
            return False
        if isinstance(message, ToolMessage):
            return self._result(scope, message)
        if isinstance(message, AIMessage):
            return self._reply(scope, message)
        return False

    def _updates(self, scope: str, payload: Any) -> bool:
        if not isinstance(payload, Mapping):
            return False
        immediate = False
        for node, update in payload.items():
            if node == "__interrupt__":
                # A sub-agent's interrupt surfaces in its own namespace first, then again
                # at the top: the first one says whose call waits.
                for interrupt in update or ():
                    self._items.interrupt_scopes.setdefault(str(interrupt.id), scope)
                continue
            if not isinstance(update, Mapping):
                continue
            for message in update.get("messages") or ():
                if isinstance(message, AIMessage) and node == "model":
                    immediate |= self._reply(scope, message)
                elif isinstance(message, ToolMessage):
                    immediate |= self._result(scope, message)
            if scope == MAIN and update.get("todos") is not None:
                immediate |= self._items.todos(update["todos"])
        return immediate

    def _task(self, scope: str, payload: Mapping[str, Any]) -> bool:
        # Only tool tasks: the `model` task's input is the whole state.
        if payload.get("name") != "tools":
            return False
        task_id = str(payload["id"])
        immediate = False
        if "input" in payload:
            for call in payload["input"] or ():
                if self._first("start", scope, str(call["id"])):
                    immediate |= self._items.tool_started(scope, task_id, call)
            return immediate
        result = payload.get("result")
        if isinstance(result, Mapping):
            for message in result.get("messages") or ():
                if isinstance(message, ToolMessage):
                    immediate |= self._result(scope, message)
        error = payload.get("error")
        if error is not None:
            immediate |= self._items.task_failed(task_id, error)
        return immediate

    def _reply(self, scope: str, message: AIMessage, *, seeded: bool = False) -> bool:
        if not message.id or not self._first("ai", scope, message.id):
            return False
        return self._items.ai_reply(scope, message.id, message, seeded=seeded)

    def _result(self, scope: str, message: ToolMessage) -> bool:
        if not self._first("result", scope, message.tool_call_id):
            return False
        return self._items.tool_result(scope, message)

    def _first(self, *fingerprint: str) -> bool:
        if fingerprint in self._seen:
            return False
        self._seen.add(fingerprint)
        return True
