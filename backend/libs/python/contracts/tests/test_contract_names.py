"""The wire names are part of the contract: changing one breaks deployed workers."""

from __future__ import annotations

import pytest
from temporalio.converter import DataConverter

import stigmer_contracts as contracts
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus


def test_wire_names_are_the_documented_ones() -> None:
    assert contracts.INVOKE_AGENT_EXECUTION_WORKFLOW == "InvokeAgentExecutionWorkflow"
    assert contracts.ENSURE_THREAD == "EnsureThread"
    assert contracts.EXECUTE_GRAPHTON == "ExecuteGraphton"
    assert contracts.CLEANUP_SANDBOX == "CleanupSandbox"
    assert contracts.AGENT_EXECUTION_TASK_QUEUE_DEFAULT == "execution"
    assert contracts.EXECUTION_PERSISTENCE_TASK_QUEUE_DEFAULT == "execution-persistence"


def test_retry_policies_never_retry_contract_errors() -> None:
    for options in (
        contracts.ENSURE_THREAD_OPTIONS,
        contracts.EXECUTE_GRAPHTON_OPTIONS,
        contracts.CLEANUP_SANDBOX_OPTIONS,
    ):
        assert set(options.retry_policy.non_retryable_error_types or []) >= {
            contracts.ERROR_INVALID_INPUT,
            contracts.ERROR_NOT_FOUND,
        }
    assert contracts.EXECUTE_GRAPHTON_OPTIONS.heartbeat_timeout is not None


def test_attempt_tokens_grow_with_every_attempt_of_every_round() -> None:
    tokens = [
        contracts.attempt_token(round_, attempt)
        for round_ in (1, 2, 3)
        for attempt in (1, 2, contracts.ATTEMPTS_PER_ROUND - 1)
    ]
    assert tokens == sorted(tokens)
    assert len(set(tokens)) == len(tokens)
    with pytest.raises(ValueError, match="attempt"):
        contracts.attempt_token(1, contracts.ATTEMPTS_PER_ROUND)
    with pytest.raises(ValueError, match="round"):
        contracts.attempt_token(0, 1)


def test_turn_payloads_are_small_and_hold_ids_only() -> None:
    converter: DataConverter = contracts.data_converter()
    request = contracts.TurnRequest(execution_id="aex-1", thread_id="thread-1", round=2)
    [payload] = converter.payload_converter.to_payloads([request])
    assert len(payload.data) < 100
    [back] = converter.payload_converter.from_payloads([payload], [contracts.TurnRequest])
    assert back == request
    outcome = contracts.TurnOutcome(phase=3, error="")
    [payload] = converter.payload_converter.to_payloads([outcome])
    assert converter.payload_converter.from_payloads([payload], [contracts.TurnOutcome]) == [
        outcome
    ]


def test_protobuf_payloads_travel_as_binary_and_round_trip() -> None:
    converter: DataConverter = contracts.data_converter()
    status = AgentExecutionStatus(sequence=7, error="boom")
    [payload] = converter.payload_converter.to_payloads([status])
    assert payload.metadata["encoding"] == b"binary/protobuf"
    [back] = converter.payload_converter.from_payloads([payload], [AgentExecutionStatus])
    assert back == status


def test_public_exports_are_pinned() -> None:
    assert sorted(contracts.__all__) == sorted(
        name
        for name in dir(contracts)
        if (not name.startswith("_") and name.isupper())
        or name
        in {
            "ActivityOptions",
            "ApprovalDecision",
            "PendingApproval",
            "ProtoFirstPayloadConverter",
            "TurnOutcome",
            "TurnRequest",
            "attempt_token",
            "cleanup_sandbox_defn",
            "data_converter",
            "ensure_thread_defn",
            "execute_cleanup_sandbox",
            "execute_ensure_thread",
            "execute_graphton",
            "execute_graphton_defn",
        }
    )


def test_approvals_cross_the_wire_whole() -> None:
    """What a run stopped at and the decisions that resume it survive the data converter."""
    converter = contracts.data_converter()
    outcome = contracts.TurnOutcome(
        phase=ExecutionPhase.EXECUTION_AWAITING_APPROVAL,
        approvals=(
            contracts.PendingApproval(
                tool_call_id="main-call-1-0",
                interrupt_id="a" * 32,
                position=0,
                tool_name="execute",
                allowed_decisions=(1, 3),
                timeout_seconds=2.5,
                on_timeout=2,
            ),
        ),
    )
    request = contracts.TurnRequest(
        execution_id="aex-1",
        thread_id="thread-1",
        round=2,
        decisions=(
            contracts.ApprovalDecision(
                tool_call_id="main-call-1-0",
                interrupt_id="a" * 32,
                position=0,
                type=2,
                edited_args_json='{"command": "ls"}',
                message="narrower",
            ),
        ),
    )
    payloads = converter.payload_converter.to_payloads([outcome, request])
    back = converter.payload_converter.from_payloads(
        payloads, [contracts.TurnOutcome, contracts.TurnRequest]
    )
    assert back == [outcome, request]
