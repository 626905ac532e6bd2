"""What a run that stopped for approval reports: each waiting call with its tool-call id.

deepagents raises one LangGraph interrupt per model reply that calls gated tools. Its value
lists the gated calls in the reply's order (`action_requests`, name and args) but carries no
tool-call id, so each request is matched, in order, to the calls of the same agent that have
not run yet, by name. The agent is known from where the interrupt surfaced in the stream (a
sub-agent's surfaces first in its own namespace); an interrupt seen only in the checkpoint
(a retried attempt) belongs to the main agent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.json_format import ParseDict
from google.protobuf.struct_pb2 import Struct
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Interrupt

from agent_runner.approvals._rules import allowed_decisions, matching_rule
from ai.stigmer.agentic.agent.v1.spec_pb2 import ToolApprovalRule
from stigmer_contracts import PendingApproval

logger = logging.getLogger(__name__)

# A call the matching can not place (it never appeared in the stream): its id is made from
# the interrupt's, which is stable across attempts.
_PLACEHOLDER = "{interrupt}-{position}"


@dataclass(frozen=True)
class WaitingCall:
    """One gated call of an interrupt, placed on the status."""

    scope: str
    tool_call_id: str
    name: str
    args: Mapping[str, Any]
    approval: PendingApproval


Candidates = Callable[[str], Sequence[tuple[str, str]]]
RulesOf = Callable[[str], Sequence[ToolApprovalRule]]


def find_pending(
    interrupts: Sequence[Interrupt],
    *,
    scopes: Mapping[str, str],
    candidates: Candidates,
    rules_of: RulesOf,
    main_scope: str,
) -> list[WaitingCall]:
    """The waiting calls of `interrupts` (deduplicated by id).

    `scopes` maps an interrupt id to the agent scope it surfaced in; `candidates(scope)` lists
    (call id, tool name) of that agent's calls that have not run, oldest first; `rules_of`
    gives an agent scope's approval rules."""
    waiting: list[WaitingCall] = []
    seen: set[str] = set()
    taken: set[str] = set()
    for interrupt in interrupts:
        if interrupt.id in seen or not _is_approval(interrupt.value):
            continue
        seen.add(interrupt.id)
        scope = scopes.get(interrupt.id, main_scope)
        open_calls = [c for c in candidates(scope) if c[0] not in taken]
        rules = rules_of(scope)
        for position, request in enumerate(interrupt.value["action_requests"]):
            name = str(request.get("name", ""))
            call_id = next((cid for cid, cname in open_calls if cname == name), None)
            if call_id is None:
                call_id = _PLACEHOLDER.format(interrupt=interrupt.id, position=position)
                logger.warning(
                    "approval %s/%d (%s) matched no streamed call", interrupt.id, position, name
                )
            else:
                open_calls = [c for c in open_calls if c[0] != call_id]
            taken.add(call_id)
            rule = matching_rule(rules, name)
            review = interrupt.value["review_configs"][position]
            waiting.append(
                WaitingCall(
                    scope=scope,
                    tool_call_id=call_id,
                    name=name,
                    args=request.get("args") or {},
                    approval=PendingApproval(
                        tool_call_id=call_id,
                        interrupt_id=interrupt.id,
                        position=position,
                        tool_name=name,
                        allowed_decisions=_allowed(rule, review),
                        timeout_seconds=(
                            rule.timeout.ToTimedelta().total_seconds()
                            if rule is not None and rule.HasField("timeout")
                            else 0.0
                        ),
                        on_timeout=rule.on_timeout if rule is not None else 0,
                    ),
                )
            )
    return waiting


def _allowed(rule: ToolApprovalRule | None, review: Mapping[str, Any]) -> tuple[int, ...]:
    if rule is not None:
        return tuple(int(d) for d in allowed_decisions(rule))
    names = {"approve": 1, "edit": 2, "reject": 3}
    return tuple(names[d] for d in review.get("allowed_decisions", ()) if d in names)


def _is_approval(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("action_requests"), list)
        and isinstance(value.get("review_configs"), list)
        and len(value["action_requests"]) == len(value["review_configs"])
    )


def tool_schemas(graph: CompiledStateGraph[Any, Any, Any, Any]) -> dict[str, Struct]:
    """The JSON schema of each tool of the graph's tool node, for checking edited args."""
    node = graph.nodes.get("tools")
    tools: Mapping[str, BaseTool] = getattr(getattr(node, "bound", None), "tools_by_name", {})
    schemas: dict[str, Struct] = {}
    for name, tool in tools.items():
        schema = _schema(tool)
        if schema is not None:
            schemas[name] = schema
    return schemas


def _schema(tool: BaseTool) -> Struct | None:
    try:
        schema = convert_to_openai_tool(tool)["function"].get("parameters")
    except Exception as error:  # a tool whose schema pydantic cannot render
        logger.warning("tool %s: no JSON schema (%s)", tool.name, error)
        return None
    if not isinstance(schema, dict):
        return None
    return ParseDict(schema, Struct())
