"""Marking the calls a stopped run waits on: their status, approval and what the workflow
needs to resume them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deepagents.middleware.subagents import GENERAL_PURPOSE_SUBAGENT
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from langgraph.types import Interrupt

from agent_runner.approvals._pending import find_pending
from agent_runner.status import MAIN
from agent_runner.status._items import StatusItems
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.spec_pb2 import ToolApprovalRule
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import ToolCallApproval
from stigmer_contracts import PendingApproval

# deepagents' default sub-agent, which stands in for the main agent (agent.py).
_GENERAL_PURPOSE = str(GENERAL_PURPOSE_SUBAGENT["name"])


def mark_waiting(
    interrupts: Sequence[Interrupt],
    *,
    agent: Agent,
    items: StatusItems,
    schemas: Mapping[str, Struct],
) -> list[PendingApproval]:
    """Mark each call of `interrupts` TOOL_CALL_AWAITING_APPROVAL with its approval (allowed
    decisions, the tool's JSON schema, when it started waiting and when it times out)."""

    def rules_of(scope: str) -> Sequence[ToolApprovalRule]:
        name = items.subs[scope].name if scope in items.subs else ""
        for sub in agent.spec.sub_agents:
            if sub.name == name:
                return list(sub.tool_approvals)
        # The main agent, and the general-purpose sub-agent that stands in for it.
        return list(agent.spec.tool_approvals) if name in ("", _GENERAL_PURPOSE) else []

    calls = find_pending(
        interrupts,
        scopes=items.interrupt_scopes,
        candidates=items.open_calls,
        rules_of=rules_of,
        main_scope=MAIN,
    )
    requested = Timestamp()
    requested.GetCurrentTime()
    for call in calls:
        approval = ToolCallApproval(
            allowed_decisions=call.approval.allowed_decisions,  # type: ignore[arg-type]
            requested_at=requested,
            on_timeout=call.approval.on_timeout,  # type: ignore[arg-type]
        )
        if call.name in schemas:
            approval.args_schema.CopyFrom(schemas[call.name])
        if call.approval.timeout_seconds:
            approval.expires_at.FromNanoseconds(
                requested.ToNanoseconds() + int(call.approval.timeout_seconds * 1e9)
            )
        items.awaiting(
            call.scope,
            {"id": call.tool_call_id, "name": call.name, "args": dict(call.args)},
            approval,
        )
    return [call.approval for call in calls]
