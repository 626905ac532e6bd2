"""The workflow's side of tool-call approval: what is pending, the DecideToolCalls Update's
checks, and the timeouts (docs/guides/approvals.md, docs/architecture/workflow.md).

Deterministic code only, imported by `stigmer_server.workflows`: it keeps light imports for
the same reason that module does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, NoReturn

from temporalio.exceptions import ApplicationError

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType, ApprovalTimeoutAction
from stigmer_contracts import PendingApproval

# The Update the server's `decide` sends to a turn's workflow, and the server activity that
# records decisions on the tool calls.
DECIDE_TOOL_CALLS: Final = "DecideToolCalls"
RECORD_APPROVAL_DECISIONS: Final = "RecordApprovalDecisions"
# Who decided when a rule's timeout did.
TIMEOUT_DECIDER: Final = "system:timeout"
# ApplicationError type of a refused Update; the server maps it to FAILED_PRECONDITION.
ERROR_DECISION_REFUSED: Final = "DecisionRefused"

REJECT: Final = ApprovalDecisionType.APPROVAL_DECISION_REJECT
TIMEOUT_FAIL: Final = ApprovalTimeoutAction.APPROVAL_TIMEOUT_FAIL


@dataclass(frozen=True)
class DecidedCall:
    """One decision as `decide` received it (validated there against the stored status)."""

    tool_call_id: str
    type: int
    edited_args_json: str = ""
    message: str = ""


@dataclass(frozen=True)
class DecisionBatch:
    """The DecideToolCalls Update's input: one `decide` call."""

    decisions: tuple[DecidedCall, ...]
    decided_by: str


@dataclass(frozen=True)
class DecisionRecord:
    """RecordApprovalDecisions' input: decisions to write on the execution's tool calls."""

    execution_id: str
    decisions: tuple[DecidedCall, ...]
    decided_by: str
    # Seconds since the epoch (the workflow's clock when the decision arrived).
    decided_at: float


class ApprovalRound:
    """One round of waiting: the calls the last run stopped at and the decisions so far."""

    def __init__(self, pending: Iterable[PendingApproval], started: datetime) -> None:
        self.pending = {call.tool_call_id: call for call in pending}
        self.decided: dict[str, DecidedCall] = {}
        self._started = started
        # Decisions accepted whose RecordApprovalDecisions has not finished: the run resumes
        # only once they are on the status, so the runner never overtakes them.
        self.recording = 0

    @property
    def complete(self) -> bool:
        return len(self.decided) == len(self.pending) and self.recording == 0

    def check(self, batch: DecisionBatch) -> None:
        """The Update's validator: refuse anything that does not fit what is pending."""
        if not batch.decisions:
            _refuse("decisions: at least one decision is required")
        seen: set[str] = set()
        for index, decision in enumerate(batch.decisions):
            field = f"decisions[{index}]"
            call = self.pending.get(decision.tool_call_id)
            if call is None:
                _refuse(
                    f"{field}.tool_call_id: {decision.tool_call_id!r} is not waiting for "
                    f"approval (waiting: {sorted(self.undecided()) or 'none'})"
                )
            if decision.tool_call_id in self.decided or decision.tool_call_id in seen:
                _refuse(f"{field}.tool_call_id: {decision.tool_call_id!r} is already decided")
            seen.add(decision.tool_call_id)
            if decision.type not in call.allowed_decisions:
                allowed = ", ".join(_name(t) for t in call.allowed_decisions)
                _refuse(
                    f"{field}.type: {_name(decision.type)} is not allowed for "
                    f"{call.tool_name} (allowed: {allowed})"
                )

    def accept(self, batch: DecisionBatch) -> None:
        for decision in batch.decisions:
            self.decided[decision.tool_call_id] = decision

    def undecided(self) -> list[str]:
        return [call_id for call_id in self.pending if call_id not in self.decided]

    def next_deadline(self) -> datetime | None:
        """When the first undecided call with a timeout times out; None when none has one."""
        deadlines = [
            self._started + timedelta(seconds=call.timeout_seconds)
            for call_id, call in self.pending.items()
            if call_id not in self.decided and call.timeout_seconds > 0
        ]
        return min(deadlines, default=None)

    def expired(self, now: datetime) -> list[PendingApproval]:
        return [
            call
            for call_id, call in self.pending.items()
            if call_id not in self.decided
            and call.timeout_seconds > 0
            and self._started + timedelta(seconds=call.timeout_seconds) <= now
        ]

    def resume_order(self) -> Sequence[tuple[PendingApproval, DecidedCall]]:
        return [(call, self.decided[call_id]) for call_id, call in self.pending.items()]


def timeout_rejection(call: PendingApproval) -> DecidedCall:
    seconds = call.timeout_seconds
    return DecidedCall(
        tool_call_id=call.tool_call_id,
        type=REJECT,
        message=(
            f"No one approved this {call.tool_name} call within {seconds:g} seconds, so it "
            "was not run."
        ),
    )


def _name(decision: int) -> str:
    try:
        return ApprovalDecisionType.Name(decision)  # type: ignore[arg-type]
    except ValueError:
        return str(decision)


def _refuse(message: str) -> NoReturn:
    raise ApplicationError(message, type=ERROR_DECISION_REFUSED, non_retryable=True)
