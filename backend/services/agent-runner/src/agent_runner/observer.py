"""Model and tool calls seen through LangChain callbacks: metrics always, spans when tracing.

The status builder reads the graph's stream, which tells what happened but not when a
model call started or its first token arrived; callbacks do. A `TurnObserver` is given to
one turn's run config and reaches every model and tool call of the turn, sub-agents
included. With tracing on, each call gets a span under the nearest enclosing call that has
one (a sub-agent's calls under its `task` tool call), else under the turn's stream span.
Spans carry names, models, token counts, status and exit codes: never message text,
arguments or results.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from agent_runner.metrics import METRICS, RunnerMetrics

_EXIT_CODE = re.compile(r"exit code (-?\d+)\]?\s*$")
_tracer = trace.get_tracer("agent_runner")


@dataclass
class _Call:
    label: str  # the model string or the tool name
    started: float
    span: Span | None
    first_token: float | None = None


class TurnObserver(BaseCallbackHandler):
    # Inline: the default would run a sync handler in a thread for every callback.
    run_inline = True

    def __init__(self, *, tracing: bool, metrics: RunnerMetrics = METRICS) -> None:
        self._tracing = tracing
        self._metrics = metrics
        # Captured where the observer is made: inside the turn's stream span.
        self._root = otel_context.get_current()
        self._calls: dict[UUID, _Call] = {}
        # run -> parent run, only with tracing: to find the span a call nests under.
        self._parents: dict[UUID, UUID | None] = {}

    # -- runs that are neither model nor tool calls: only their parent links matter ------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if self._tracing:
            self._parents[run_id] = parent_run_id

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._parents.pop(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._parents.pop(run_id, None)

    # -- model calls ---------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        model = model_label(metadata or {}, kwargs.get("invocation_params") or {})
        span = None
        if self._tracing:
            span = self._start(f"chat {model}", parent_run_id)
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", model)
            provider = (metadata or {}).get("ls_provider")
            if isinstance(provider, str):
                span.set_attribute("gen_ai.system", provider)
            self._parents[run_id] = parent_run_id
        self._calls[run_id] = _Call(model, time.monotonic(), span)

    def on_llm_new_token(
        self, token: str | list[str | dict[str, Any]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        call = self._calls.get(run_id)
        if call is not None and call.first_token is None:
            call.first_token = time.monotonic()

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._end(run_id)
        if call is None:
            return
        self._metrics.model_call_seconds.labels(call.label).observe(time.monotonic() - call.started)
        if call.first_token is not None:
            ttft = call.first_token - call.started
            self._metrics.time_to_first_token.labels(call.label).observe(ttft)
        usage = _usage(response)
        for kind, count in usage.items():
            self._metrics.tokens.labels(call.label, kind).inc(count)
        if call.span is not None:
            for kind, count in usage.items():
                call.span.set_attribute(f"gen_ai.usage.{kind}_tokens", count)
            if call.first_token is not None:
                ttft_ms = round((call.first_token - call.started) * 1000, 1)
                call.span.set_attribute("stigmer.time_to_first_token_ms", ttft_ms)
            call.span.end()

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._end(run_id)
        if call is not None and call.span is not None:
            call.span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            call.span.end()

    # -- tool calls ----------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        tool = str((serialized or {}).get("name") or kwargs.get("name") or "unknown")
        span = None
        if self._tracing:
            span = self._start(f"execute_tool {tool}", parent_run_id)
            span.set_attribute("gen_ai.operation.name", "execute_tool")
            span.set_attribute("gen_ai.tool.name", tool)
            self._parents[run_id] = parent_run_id
        self._calls[run_id] = _Call(tool, time.monotonic(), span)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._end(run_id)
        if call is None:
            return
        failed = isinstance(output, ToolMessage) and output.status == "error"
        status = "failed" if failed else "completed"
        self._metrics.tool_calls.labels(call.label, status).inc()
        if call.span is not None:
            call.span.set_attribute("stigmer.tool.status", status)
            exit_code = _exit_code(output)
            if exit_code is not None:
                call.span.set_attribute("stigmer.tool.exit_code", exit_code)
            if failed:
                call.span.set_status(Status(StatusCode.ERROR))
            call.span.end()

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._end(run_id)
        if call is None:
            return
        self._metrics.tool_calls.labels(call.label, "failed").inc()
        if call.span is not None:
            call.span.set_attribute("stigmer.tool.status", "failed")
            call.span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            call.span.end()

    def close(self) -> None:
        """End the spans of calls a cancel left open, so the exporter still sends them."""
        for call in self._calls.values():
            if call.span is not None:
                call.span.set_status(Status(StatusCode.ERROR, "turn ended first"))
                call.span.end()
        self._calls.clear()
        self._parents.clear()

    # -- helpers -------------------------------------------------------------------------

    def _start(self, name: str, parent_run_id: UUID | None) -> Span:
        return _tracer.start_span(
            name, context=self._parent_context(parent_run_id), kind=SpanKind.INTERNAL
        )

    def _parent_context(self, run_id: UUID | None) -> otel_context.Context:
        seen = 0
        while run_id is not None and seen < 1000:
            call = self._calls.get(run_id)
            if call is not None and call.span is not None:
                return trace.set_span_in_context(call.span, self._root)
            run_id = self._parents.get(run_id)
            seen += 1
        return self._root

    def _end(self, run_id: UUID) -> _Call | None:
        self._parents.pop(run_id, None)
        return self._calls.pop(run_id, None)


def model_label(metadata: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """`provider:model` from LangChain's tracing metadata, else from the call's parameters."""
    name = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
    provider = metadata.get("ls_provider") or params.get("_type")
    if name and provider:
        return f"{provider}:{name}"
    return str(name or provider or "unknown")


def _usage(response: LLMResult) -> dict[str, int]:
    totals = {"input": 0, "output": 0}
    for generations in response.generations:
        for generation in generations:
            if not isinstance(generation, ChatGeneration):
                continue
            usage = getattr(generation.message, "usage_metadata", None) or {}
            totals["input"] += int(usage.get("input_tokens", 0))
            totals["output"] += int(usage.get("output_tokens", 0))
    return {kind: count for kind, count in totals.items() if count}


def _exit_code(output: Any) -> int | None:
    text = output.content if isinstance(output, ToolMessage) else output
    if not isinstance(text, str):
        return None
    match = _EXIT_CODE.search(text.rstrip())
    return int(match.group(1)) if match else None
