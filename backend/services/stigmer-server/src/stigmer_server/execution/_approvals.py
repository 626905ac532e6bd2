"""`decide`: decisions on tool calls waiting for approval, checked against the stored status,
then handed to the turn's workflow as the DecideToolCalls Update (docs/guides/approvals.md).

The server checks everything it can see in the stored status before anything changes: the
execution is waiting, each call is one of its waiting calls and not decided yet, the decision
is one the call's rule allows, and edited args fit the tool's schema. The workflow checks the
same against its own state (a second `decide` racing the first is refused there), and only an
accepted Update writes the decisions on the tool calls (RecordApprovalDecisions).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final

import jsonschema
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import ToolCallDecision, ToolCallDecisions
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    SubAgentExecution,
    ToolCall,
)
from stigmer_server import resources as kinds
from stigmer_server.approval_waits import DecidedCall, DecisionBatch, DecisionRecord
from stigmer_server.errors import FailedPrecondition, InvalidArgument
from stigmer_server.validation import check_id

logger = logging.getLogger(__name__)

MAX_MESSAGE: Final = 16_384
_EDIT = ApprovalDecisionType.APPROVAL_DECISION_EDIT


def waiting_calls(status: AgentExecutionStatus) -> Iterator[tuple[str, ToolCall]]:
    """(sub-agent execution id or "", call) of every call waiting for approval."""
    for call in status.tool_calls:
        if call.status == ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL:
            yield "", call
    for sub in status.sub_agent_executions:
        for call in sub.tool_calls:
            if call.status == ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL:
                yield sub.id, call


def check_decisions(
    execution: AgentExecution, request: ToolCallDecisions, decided_by: str
) -> DecisionBatch:
    """The request as the workflow's Update input; InvalidArgument or FailedPrecondition
    naming the field when anything does not fit what waits."""
    check_id(request.execution_id, "execution_id", kinds.AGENT_EXECUTION)
    phase = execution.status.phase
    if phase != ExecutionPhase.EXECUTION_AWAITING_APPROVAL:
        raise FailedPrecondition(
            f"execution_id: execution {request.execution_id!r} is not waiting for approval "
            f"(phase {ExecutionPhase.Name(phase)})"
        )
    if not request.decisions:
        raise InvalidArgument("decisions", "required: at least one decision")
    calls = {call.id: call for _, call in waiting_calls(execution.status)}
    seen: set[str] = set()
    decided: list[DecidedCall] = []
    for index, decision in enumerate(request.decisions):
        field = f"decisions[{index}]"
        call = calls.get(decision.tool_call_id)
        if call is None:
            raise InvalidArgument(
                f"{field}.tool_call_id",
                f"{decision.tool_call_id!r} is not a tool call waiting for approval "
                f"(waiting: {sorted(calls) or 'none'})",
            )
        if decision.tool_call_id in seen:
            raise InvalidArgument(f"{field}.tool_call_id", "decided twice in this request")
        seen.add(decision.tool_call_id)
        if call.approval.decision:
            raise FailedPrecondition(
                f"{field}.tool_call_id: {call.id!r} is already decided "
                f"({ApprovalDecisionType.Name(call.approval.decision)} by "
                f"{call.approval.decided_by})"
            )
        decided.append(_check_one(decision, call, field))
    return DecisionBatch(decisions=tuple(decided), decided_by=decided_by)


def _check_one(decision: ToolCallDecision, call: ToolCall, field: str) -> DecidedCall:
    allowed = list(call.approval.allowed_decisions)
    if decision.type not in allowed:
        names = ", ".join(ApprovalDecisionType.Name(t) for t in allowed)
        raise InvalidArgument(
            f"{field}.type",
            f"expected one of {names} for {call.name}, got {_decision_name(decision.type)}",
        )
    if len(decision.message) > MAX_MESSAGE:
        raise InvalidArgument(
            f"{field}.message",
            f"too long ({len(decision.message)} characters, at most {MAX_MESSAGE})",
        )
    edited = ""
    if decision.type == _EDIT:
        if not decision.HasField("args"):
            raise InvalidArgument(f"{field}.args", "required with APPROVAL_DECISION_EDIT")
        args = MessageToDict(decision.args)
        _check_schema(args, call, f"{field}.args")
        edited = json.dumps(args, sort_keys=True)
    elif decision.HasField("args"):
        raise InvalidArgument(f"{field}.args", "set only with APPROVAL_DECISION_EDIT")
    return DecidedCall(
        tool_call_id=decision.tool_call_id,
        type=decision.type,
        edited_args_json=edited,
        message=decision.message,
    )


def _check_schema(args: dict[str, object], call: ToolCall, field: str) -> None:
    if not call.approval.HasField("args_schema"):
        return
    schema = MessageToDict(call.approval.args_schema)
    try:
        jsonschema.validate(args, schema)
    except jsonschema.ValidationError as error:
        where = ".".join(str(part) for part in error.absolute_path)
        raise InvalidArgument(
            f"{field}{'.' + where if where else ''}",
            f"does not fit the {call.name} tool's arguments: {error.message}",
        ) from None
    except jsonschema.SchemaError as error:
        # The runner reported the schema; a broken one must not block the person.
        logger.warning("tool %s: unusable args schema: %s", call.name, error.message)


def _decision_name(value: int) -> str:
    try:
        return ApprovalDecisionType.Name(value)  # type: ignore[arg-type]
    except ValueError:
        return str(value)


def decision_delta(stored: AgentExecutionStatus, record: DecisionRecord) -> AgentExecutionStatus:
    """The tool calls' approvals with the decisions written in (an approval is sent whole)."""
    where = {call.id: (sub, call) for sub, call in waiting_calls(stored)}
    delta = AgentExecutionStatus()
    subs: dict[str, SubAgentExecution] = {}
    decided_at = Timestamp()
    decided_at.FromDatetime(datetime.fromtimestamp(record.decided_at, UTC))
    for decision in record.decisions:
        found = where.get(decision.tool_call_id)
        if found is None:
            continue  # no longer waiting (the turn was cancelled meanwhile)
        sub_id, call = found
        update = ToolCall(id=call.id)
        update.approval.CopyFrom(call.approval)
        update.approval.decision = ApprovalDecisionType.ValueType(decision.type)
        update.approval.decided_by = record.decided_by
        update.approval.decided_at.CopyFrom(decided_at)
        update.approval.message = decision.message
        if decision.edited_args_json:
            edited = Struct()
            edited.update(json.loads(decision.edited_args_json))
            update.approval.edited_args.CopyFrom(edited)
        if not sub_id:
            delta.tool_calls.append(update)
            continue
        sub = subs.get(sub_id)
        if sub is None:
            sub = delta.sub_agent_executions.add(id=sub_id)
            subs[sub_id] = sub
        sub.tool_calls.append(update)
    return delta
