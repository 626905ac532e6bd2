"""Typed activity definitions shared by both sides of the wire.

Implementations decorate their methods with ``ensure_thread_defn`` and friends: mypy then
checks the method's parameter and return types against the contract, and Temporal registers
it under the contract's name. The workflow calls the ``execute_*`` helpers, which pass the
same names, argument order and result types.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import activity, workflow

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionStatusUpdate
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_contracts._names import (
    CLEANUP_SANDBOX,
    ENSURE_THREAD,
    EXECUTE_GRAPHTON,
    UPDATE_EXECUTION_STATUS,
)
from stigmer_contracts._policies import (
    CLEANUP_SANDBOX_OPTIONS,
    ENSURE_THREAD_OPTIONS,
    EXECUTE_GRAPHTON_OPTIONS,
    UPDATE_EXECUTION_STATUS_OPTIONS,
    ActivityOptions,
)

_S = TypeVar("_S")

EnsureThreadMethod = Callable[[_S, str, str], Awaitable[str]]
ExecuteGraphtonMethod = Callable[[_S, AgentExecution, str], Awaitable[AgentExecutionStatus]]
UpdateExecutionStatusMethod = Callable[[_S, AgentExecutionStatusUpdate], Awaitable[None]]
CleanupSandboxMethod = Callable[[_S, str], Awaitable[bool]]


def ensure_thread_defn(fn: EnsureThreadMethod[_S]) -> EnsureThreadMethod[_S]:
    """EnsureThread(session_id, agent_id) -> thread_id: the session's thread, created if empty."""
    return activity.defn(name=ENSURE_THREAD)(fn)


def execute_graphton_defn(fn: ExecuteGraphtonMethod[_S]) -> ExecuteGraphtonMethod[_S]:
    """ExecuteGraphton(execution, thread_id) -> final status: runs one turn."""
    return activity.defn(name=EXECUTE_GRAPHTON)(fn)


def update_execution_status_defn(
    fn: UpdateExecutionStatusMethod[_S],
) -> UpdateExecutionStatusMethod[_S]:
    """UpdateExecutionStatus(update): the server persists and publishes a status."""
    return activity.defn(name=UPDATE_EXECUTION_STATUS)(fn)


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
    execution: AgentExecution,
    thread_id: str,
    *,
    task_queue: str,
    options: ActivityOptions = EXECUTE_GRAPHTON_OPTIONS,
) -> AgentExecutionStatus:
    status: AgentExecutionStatus = await workflow.execute_activity(
        EXECUTE_GRAPHTON,
        args=[execution, thread_id],
        result_type=AgentExecutionStatus,
        task_queue=task_queue,
        start_to_close_timeout=options.start_to_close_timeout,
        heartbeat_timeout=options.heartbeat_timeout,
        retry_policy=options.retry_policy,
        cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )
    return status


async def execute_update_execution_status(
    update: AgentExecutionStatusUpdate,
    *,
    task_queue: str,
    options: ActivityOptions = UPDATE_EXECUTION_STATUS_OPTIONS,
) -> None:
    await workflow.execute_activity(
        UPDATE_EXECUTION_STATUS,
        update,
        task_queue=task_queue,
        start_to_close_timeout=options.start_to_close_timeout,
        retry_policy=options.retry_policy,
    )


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
