"""Typed activity definitions shared by both sides of the wire.

Implementations decorate their methods with ``ensure_thread_defn`` and friends: mypy then
checks the method's parameter and return types against the contract, and Temporal registers
it under the contract's name. The workflow calls the ``execute_*`` helpers, which pass the
same names, argument order and result types.

What crosses Temporal is small and holds no secret: ids in, an outcome out. The runner reads
the turn itself from the server and writes its status there as it goes, so neither the
message, the environment nor the status (which grows with the turn) is a Temporal payload.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from temporalio import activity, workflow

from stigmer_contracts._names import CLEANUP_SANDBOX, ENSURE_THREAD, EXECUTE_GRAPHTON
from stigmer_contracts._policies import (
    CLEANUP_SANDBOX_OPTIONS,
    ENSURE_THREAD_OPTIONS,
    EXECUTE_GRAPHTON_OPTIONS,
    ActivityOptions,
)

_S = TypeVar("_S")

# An attempt of round r, Temporal attempt a, writes the status as `r * ATTEMPTS_PER_ROUND + a`:
# the token grows with every attempt of every round, so the server can fence older ones.
ATTEMPTS_PER_ROUND: Final = 1000


@dataclass(frozen=True)
class PendingApproval:
    """A tool call the graph stopped at, waiting for a person (docs/guides/approvals.md).

    `interrupt_id` and `position` say where the call's decision goes when the graph resumes:
    LangGraph's interrupt (one per model reply) lists the gated calls in order."""

    tool_call_id: str
    interrupt_id: str
    position: int
    tool_name: str
    # ApprovalDecisionType values the call's rule allows (never empty).
    allowed_decisions: tuple[int, ...]
    # 0: no timeout.
    timeout_seconds: float = 0.0
    # An ApprovalTimeoutAction value.
    on_timeout: int = 0


@dataclass(frozen=True)
class ApprovalDecision:
    """A decision on one PendingApproval, as the resumed run applies it."""

    tool_call_id: str
    interrupt_id: str
    position: int
    # An ApprovalDecisionType value.
    type: int
    # EDIT: the arguments the call runs with, as a JSON object.
    edited_args_json: str = ""
    message: str = ""


@dataclass(frozen=True)
class TurnRequest:
    """ExecuteGraphton's input."""

    execution_id: str
    thread_id: str
    # 1 for the turn's first run; the workflow counts up for each later run of the same turn.
    round: int = 1
    # Decisions on every call the previous run stopped at (empty for a turn's first run).
    decisions: tuple[ApprovalDecision, ...] = ()


@dataclass(frozen=True)
class TurnOutcome:
    """ExecuteGraphton's result: how the run ended, not what it produced."""

    # An ExecutionPhase value: COMPLETED, or the phase the run stopped in.
    phase: int
    # Already redacted: the runner never returns a secret.
    error: str = ""
    # EXECUTION_AWAITING_APPROVAL: the calls the graph stopped at, in no particular order.
    approvals: tuple[PendingApproval, ...] = ()


def attempt_token(round_: int, attempt: int) -> int:
    """The fencing token an attempt writes the status with (see ATTEMPTS_PER_ROUND)."""
    if not 1 <= attempt < ATTEMPTS_PER_ROUND or round_ < 1:
        raise ValueError(
            f"attempt {attempt} of round {round_}: expected round >= 1 and "
            f"1 <= attempt < {ATTEMPTS_PER_ROUND}"
        )
    return round_ * ATTEMPTS_PER_ROUND + attempt


EnsureThreadMethod = Callable[[_S, str, str], Awaitable[str]]
ExecuteGraphtonMethod = Callable[[_S, TurnRequest], Awaitable[TurnOutcome]]
CleanupSandboxMethod = Callable[[_S, str], Awaitable[bool]]


def ensure_thread_defn(fn: EnsureThreadMethod[_S]) -> EnsureThreadMethod[_S]:
    """EnsureThread(session_id, agent_id) -> thread_id: the session's thread, created if empty."""
    return activity.defn(name=ENSURE_THREAD)(fn)


def execute_graphton_defn(fn: ExecuteGraphtonMethod[_S]) -> ExecuteGraphtonMethod[_S]:
    """ExecuteGraphton(request) -> outcome: runs (or resumes) one turn."""
    return activity.defn(name=EXECUTE_GRAPHTON)(fn)


def cleanup_sandbox_defn(fn: CleanupSandboxMethod[_S]) -> CleanupSandboxMethod[_S]:
    """CleanupSandbox(sandbox_id) -> deleted: the runner deletes one of its own sandboxes
    (False when it was already gone; another owner's sandbox is refused as InvalidInput)."""
    return activity.defn(name=CLEANUP_SANDBOX)(fn)


async def execute_ensure_thread(
    session_id: str,
    agent_id: str,
    *,
    task_queue: str,
    options: ActivityOptions = ENSURE_THREAD_OPTIONS,
) -> str:
    thread_id: str = await workflow.execute_activity(
        ENSURE_THREAD,
        args=[session_id, agent_id],
        result_type=str,
        task_queue=task_queue,
        start_to_close_timeout=options.start_to_close_timeout,
        heartbeat_timeout=options.heartbeat_timeout,
        retry_policy=options.retry_policy,
    )
    return thread_id


async def execute_graphton(
    request: TurnRequest,
    *,
    task_queue: str,
    options: ActivityOptions = EXECUTE_GRAPHTON_OPTIONS,
) -> TurnOutcome:
    outcome: TurnOutcome = await workflow.execute_activity(
        EXECUTE_GRAPHTON,
        request,
        result_type=TurnOutcome,
        task_queue=task_queue,
        start_to_close_timeout=options.start_to_close_timeout,
        heartbeat_timeout=options.heartbeat_timeout,
        retry_policy=options.retry_policy,
        # The workflow ends only once the runner has stopped the turn (its commands killed),
        # which is what lets the session's next turn start safely.
        cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )
    return outcome


async def execute_cleanup_sandbox(
    sandbox_id: str,
    *,
    task_queue: str,
    options: ActivityOptions = CLEANUP_SANDBOX_OPTIONS,
) -> bool:
    deleted: bool = await workflow.execute_activity(
        CLEANUP_SANDBOX,
        sandbox_id,
        result_type=bool,
        task_queue=task_queue,
        start_to_close_timeout=options.start_to_close_timeout,
        retry_policy=options.retry_policy,
    )
    return deleted
