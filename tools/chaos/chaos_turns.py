"""Facts about a running turn that the scenarios wait on: its owner, its stored sequence."""

from __future__ import annotations

from chaos_cluster import RunnerPool
from temporalio.client import Client

from stigmer_contracts import data_converter
from stigmer_testing import eventually_async
from stigmer_testing._runner import AgentRunnerProcess

EXECUTE_ACTIVITY = "ExecuteGraphton"


async def turn_owner(
    temporal_address: str, pool: RunnerPool, execution_id: str, within: float = 60
) -> AgentRunnerProcess:
    """The runner whose worker holds the turn's ExecuteGraphton activity now, by the pid in
    the worker identity Temporal reports for the pending activity."""
    client = await Client.connect(temporal_address, data_converter=data_converter())
    handle = client.get_workflow_handle(execution_id)
    seen: list[str] = []

    async def owner() -> AgentRunnerProcess | None:
        description = await handle.describe()
        for activity in description.raw_description.pending_activities:
            if activity.activity_type.name != EXECUTE_ACTIVITY:
                continue
            identity = activity.last_worker_identity
            seen.append(identity)
            pid = identity.partition("@")[0]
            for runner in pool.alive:
                if str(runner.pid) == pid and activity.attempt >= 1 and identity:
                    return runner
        return None

    found: AgentRunnerProcess = await eventually_async(
        owner,
        timeout=within,
        interval=0.1,
        message=lambda: f"a runner to hold {execution_id}'s turn (identities seen {seen[-3:]})",
    )
    return found


async def agent_stack_ready(runner: AgentRunnerProcess, within: float = 120) -> None:
    """A runner that has loaded langchain and deepagents: it takes over a turn at once."""
    await eventually_async(
        lambda: "agent stack ready" in runner.log(),
        timeout=within,
        interval=0.2,
        message=lambda: f"runner {runner.pid}'s agent stack\n" + runner.log()[-3000:],
    )
