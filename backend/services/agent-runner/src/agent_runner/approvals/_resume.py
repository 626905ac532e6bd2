"""The decisions a workflow hands back, as the `Command(resume=...)` deepagents expects.

Always keyed by interrupt id: a plain resume value would answer whichever approval is
pending, even a later one nobody has seen (docs/guides/approvals.md). Decisions are checked
against the pending interrupts first, because langgraph saves a resume value before
deepagents checks it, and a bad one would then poison the approval for good.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.types import Command, Interrupt

from agent_runner.errors import InvalidInputError
from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from stigmer_contracts import ApprovalDecision

_KINDS = {
    ApprovalDecisionType.APPROVAL_DECISION_APPROVE: "approve",
    ApprovalDecisionType.APPROVAL_DECISION_EDIT: "edit",
    ApprovalDecisionType.APPROVAL_DECISION_REJECT: "reject",
}


def resume_command(
    interrupts: Sequence[Interrupt],
    decisions: Sequence[ApprovalDecision],
    *,
    gated: Collection[str],
) -> Command[Any] | None:
    """The resume Command for `decisions`; None when none of them answers a pending
    interrupt (a retried attempt whose decisions were already consumed).

    `gated`: the tools the agent's rules gate now. A waiting call whose tool is no longer
    gated (its rule was removed while the turn waited) cannot resume: deepagents would find
    no approval step to resume and end the turn without running the call."""
    pending = {interrupt.id: interrupt for interrupt in interrupts}
    by_interrupt: dict[str, list[ApprovalDecision]] = {}
    for decision in decisions:
        if decision.interrupt_id in pending:
            by_interrupt.setdefault(decision.interrupt_id, []).append(decision)
    if not by_interrupt:
        return None
    resume: dict[str, Any] = {}
    for interrupt_id, answers in by_interrupt.items():
        requests = pending[interrupt_id].value["action_requests"]
        configs = pending[interrupt_id].value["review_configs"]
        ungated = sorted({str(r.get("name")) for r in requests} - set(gated))
        if ungated:
            raise InvalidInputError(
                f"tool_approvals: the turn waits on {', '.join(ungated)}, which the agent's "
                "rules no longer gate (they changed while it waited); restore the rule to "
                "resume it, or cancel the turn"
            )
        ordered = sorted(answers, key=lambda d: d.position)
        if [d.position for d in ordered] != list(range(len(requests))):
            raise InvalidInputError(
                f"decisions for approval {interrupt_id}: expected one for each of "
                f"{len(requests)} call(s), got positions {[d.position for d in ordered]}"
            )
        resume[interrupt_id] = {
            "decisions": [_decision(d, requests[d.position], configs[d.position]) for d in ordered]
        }
    return Command(resume=resume)


def _decision(
    decision: ApprovalDecision, request: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    kind = _KINDS.get(decision.type)  # type: ignore[call-overload]
    if kind is None or kind not in config.get("allowed_decisions", ()):
        raise InvalidInputError(
            f"decisions[{decision.tool_call_id}].type: {decision.type} is not allowed for "
            f"{request.get('name')}"
        )
    if kind == "approve":
        return {"type": "approve"}
    if kind == "reject":
        return (
            {"type": "reject", "message": decision.message}
            if decision.message
            else {"type": "reject"}
        )
    args = json.loads(decision.edited_args_json or "{}")
    if not isinstance(args, dict):
        raise InvalidInputError(f"decisions[{decision.tool_call_id}].args: expected an object")
    # The same tool: an edit may change arguments, never which tool runs.
    return {"type": "edit", "edited_action": {"name": request["name"], "args": args}}


def check_decided_calls_answered(
    messages: Sequence[BaseMessage], decisions: Sequence[ApprovalDecision]
) -> None:
    """In a checkpoint that holds a finished turn, every decided call of the main agent has
    a result; one without means deepagents found no approval step to resume (the agent's
    rules changed while the turn waited) and skipped the call: fail, do not call it done."""
    asked = {
        str(call["id"])
        for message in messages
        if isinstance(message, AIMessage)
        for call in message.tool_calls
    }
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    skipped = sorted(d.tool_call_id for d in decisions if d.tool_call_id in asked - answered)
    if skipped:
        raise InvalidInputError(
            f"tool_approvals: the turn waited on {', '.join(skipped)}, which the agent's "
            "rules no longer gate (they changed while it waited), so the call could not "
            "resume; run the turn again"
        )
