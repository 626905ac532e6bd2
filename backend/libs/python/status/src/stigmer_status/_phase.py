"""Execution phases and the order they may move in."""

from __future__ import annotations

from typing import Final

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase

FINAL_PHASES: Final[frozenset[ExecutionPhase.ValueType]] = frozenset(
    {
        ExecutionPhase.EXECUTION_COMPLETED,
        ExecutionPhase.EXECUTION_FAILED,
        ExecutionPhase.EXECUTION_CANCELLED,
    }
)

_RANK: Final[dict[ExecutionPhase.ValueType, int]] = {
    ExecutionPhase.EXECUTION_PHASE_UNSPECIFIED: 0,
    ExecutionPhase.EXECUTION_PENDING: 1,
    ExecutionPhase.EXECUTION_IN_PROGRESS: 2,
    # The same rank: a turn goes from running to waiting for a person and back.
    ExecutionPhase.EXECUTION_AWAITING_APPROVAL: 2,
    ExecutionPhase.EXECUTION_COMPLETED: 3,
    ExecutionPhase.EXECUTION_FAILED: 3,
    ExecutionPhase.EXECUTION_CANCELLED: 3,
}


def is_final(phase: ExecutionPhase.ValueType) -> bool:
    """True for COMPLETED, FAILED and CANCELLED: no later update changes such a phase."""
    return phase in FINAL_PHASES


def phase_rank(phase: ExecutionPhase.ValueType) -> int:
    """0 unspecified, 1 pending, 2 in progress or awaiting approval, 3 any final phase."""
    return _RANK.get(phase, 0)


def can_move(current: ExecutionPhase.ValueType, proposed: ExecutionPhase.ValueType) -> bool:
    """Whether a delta's phase may replace the stored one: forward only, never out of final.

    Setting the phase it already has is allowed (a no-op); UNSPECIFIED is never a move.
    """
    if proposed == ExecutionPhase.EXECUTION_PHASE_UNSPECIFIED:
        return False
    if is_final(current):
        return proposed == current
    return phase_rank(proposed) >= phase_rank(current)
