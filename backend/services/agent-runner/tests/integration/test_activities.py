"""The activities under temporalio's ActivityEnvironment against a real stigmer-server.

No runner worker polls this server's queue, so the workflow each `create` starts waits;
the test runs the activities itself, as the worker would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from runner_world import running_commands, write_script
from temporalio.activity import ActivityCancellationDetails
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from agent_runner.activities import RunnerActivities, TurnDependencies
from agent_runner.checkpoints import open_checkpointer
from agent_runner.clients import StigmerClients
from agent_runner.config import FlushPolicy, TurnSettings
from agent_runner.config import postgres_url as postgres_url_of
from agent_runner.graphs import AgentGraphs
from agent_runner.models import DefaultModelFactory, ProviderDefaults
from agent_runner.sandbox import LocalSandboxProvider, LocalSandboxSettings
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    ToolCallStatus,
)
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from stigmer_contracts import (
    ERROR_INVALID_INPUT,
    ERROR_MODEL_REQUEST_REJECTED,
    ERROR_NOT_FOUND,
    TurnOutcome,
    TurnRequest,
)
from stigmer_testing import eventually_async
from stigmer_testing._server import StigmerServer
from stigmer_testing.fakes import FakeAnthropic, Reply, ToolCall

pytestmark = pytest.mark.integration


def runner_activities(
    server: StigmerServer,
    clients: StigmerClients,
    root: Path,
    checkpointer: Any,
    graphs: AgentGraphs | None = None,
) -> RunnerActivities:
    dependencies = TurnDependencies(
        sandboxes=LocalSandboxProvider(
            LocalSandboxSettings(
                root=root / "sandboxes",
                command_timeout=30,
                max_output_bytes=10_000,
                isolation="auto",
                network=False,
            )
        ),
        graphs=graphs
        or AgentGraphs(
            models=DefaultModelFactory(ProviderDefaults(scripts_dir=root)),
            checkpointer=checkpointer,
        ),
        settings=TurnSettings(default_model="scripted:demo", flush=FlushPolicy()),
    )
    ready: asyncio.Future[TurnDependencies] = asyncio.get_running_loop().create_future()
    ready.set_result(dependencies)
    return RunnerActivities(clients=clients, dependencies=ready, heartbeat_interval=0.5)


def _request(execution: AgentExecution, thread_id: str) -> TurnRequest:
    return TurnRequest(execution_id=execution.metadata.id, thread_id=thread_id)


@pytest.fixture
async def clients(stigmer_server: StigmerServer) -> AsyncIterator[StigmerClients]:
    result = StigmerClients.connect(stigmer_server.address, stigmer_server.api_key)
    yield result
    await result.close()


@pytest.fixture
async def activities(
    stigmer_server: StigmerServer, clients: StigmerClients, tmp_path: Path
) -> AsyncIterator[RunnerActivities]:
    async with open_checkpointer(data_dir=tmp_path, db_url="") as saver:
        yield runner_activities(stigmer_server, clients, tmp_path, saver)


@pytest.fixture
def world(stigmer_server: StigmerServer, world_for: Any) -> Any:
    return world_for(stigmer_server)


async def test_ensure_thread_creates_and_then_returns_the_sessions_thread(
    activities: RunnerActivities, world: Any
) -> None:
    session = await world.session("scripted:demo")
    env = ActivityEnvironment()
    first = await env.run(activities.ensure_thread, session.metadata.id, "")
    assert first.startswith("thread-")
    assert (await world.get_session(session.metadata.id)).spec.thread_id == first
    assert await env.run(activities.ensure_thread, session.metadata.id, "") == first


async def test_a_turn_cancelled_while_the_agent_stack_loads_leaves_the_load_alone(
    clients: StigmerClients,
) -> None:
    loading: asyncio.Future[TurnDependencies] = asyncio.get_running_loop().create_future()
    activities = RunnerActivities(clients=clients, dependencies=loading, heartbeat_interval=0.5)
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    request = TurnRequest(execution_id="aex-loading", thread_id="thread-loading")
    turn = asyncio.ensure_future(env.run(activities.execute_graphton, request))
    # Heartbeats start first; by the first one the turn waits for the load.
    await eventually_async(lambda: bool(beats), timeout=10, message="the turn's first heartbeat")
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    # The load is shared by every turn of the runner: one turn's cancel must not end it.
    assert not loading.cancelled()


async def test_ensure_thread_of_a_missing_session_is_not_retried(
    activities: RunnerActivities,
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.ensure_thread, "ses-missing", "")
    assert caught.value.type == ERROR_NOT_FOUND
    assert caught.value.non_retryable


async def test_execute_graphton_runs_the_demo_turn_and_stores_its_status(
    activities: RunnerActivities, world: Any, tmp_path: Path
) -> None:
    session = await world.session("scripted:demo")
    execution = await world.start(session, "Show me the demo.")
    env = ActivityEnvironment()
    heartbeats: list[Any] = []
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    thread = await env.run(activities.ensure_thread, session.metadata.id, "")
    outcome = await env.run(activities.execute_graphton, _request(execution, thread))
    assert outcome == TurnOutcome(phase=ExecutionPhase.EXECUTION_COMPLETED)
    assert heartbeats
    stored = (await world.get(execution.metadata.id)).status
    assert stored.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert stored.sequence > 1
    assert stored.messages[0].type == MessageType.MESSAGE_HUMAN
    assert [c.name for c in stored.tool_calls] == ["execute", "read_file", "task"]
    assert all(c.status == ToolCallStatus.TOOL_CALL_COMPLETED for c in stored.tool_calls)
    assert "Say hello politely." in stored.tool_calls[1].result
    assert stored.sub_agent_executions[0].name == "researcher"
    assert len(stored.todos) == 4
    assert stored.messages[-1].type == MessageType.MESSAGE_AI
    session = await world.get_session(session.metadata.id)
    assert session.spec.sandbox_id == f"local-{session.metadata.id}"
    workspace = tmp_path / "sandboxes" / session.spec.sandbox_id
    assert (workspace / "notes.txt").read_text() == "turn one was here\n"
    skill_dir = next((workspace / "skills").iterdir())
    assert (skill_dir / "SKILL.md").read_text().endswith("Say hello politely.\n")


async def test_turns_of_one_agent_at_once_share_a_graph_and_keep_their_own_sandboxes(
    stigmer_server: StigmerServer, clients: StigmerClients, world: Any, tmp_path: Path
) -> None:
    first = await world.session("scripted:demo")
    second = Session(api_version="agentic.stigmer.ai/v1", kind="Session")
    second.metadata.name = f"{first.metadata.name}-b"
    second.spec.agent_instance_id = first.spec.agent_instance_id
    second = await world.call(world.sessions.create, second)
    async with open_checkpointer(data_dir=tmp_path, db_url="") as saver:
        models = DefaultModelFactory(ProviderDefaults(scripts_dir=tmp_path))
        graphs = AgentGraphs(models=models, checkpointer=saver)
        activities = runner_activities(stigmer_server, clients, tmp_path, saver, graphs)

        async def turn(session: Session) -> TurnOutcome:
            execution = await world.start(session, "Show me the demo.")
            env = ActivityEnvironment()
            thread = await env.run(activities.ensure_thread, session.metadata.id, "")
            outcome: TurnOutcome = await env.run(
                activities.execute_graphton, _request(execution, thread)
            )
            return outcome

        outcomes = await asyncio.gather(turn(first), turn(second))
    assert list(outcomes) == [TurnOutcome(phase=ExecutionPhase.EXECUTION_COMPLETED)] * 2
    assert graphs.builds == 1
    for session in (first, second):
        notes = tmp_path / "sandboxes" / f"local-{session.metadata.id}" / "notes.txt"
        assert notes.read_text() == "turn one was here\n"


async def test_a_repeated_attempt_of_a_finished_turn_does_not_run_it_again(
    activities: RunnerActivities, world: Any, tmp_path: Path
) -> None:
    session = await world.session("scripted:demo")
    execution = await world.start(session, "Show me the demo.")
    env = ActivityEnvironment()
    thread = await env.run(activities.ensure_thread, session.metadata.id, "")
    await env.run(activities.execute_graphton, _request(execution, thread))
    first = (await world.get(execution.metadata.id)).status
    again = await env.run(activities.execute_graphton, _request(execution, thread))
    assert again.phase == ExecutionPhase.EXECUTION_COMPLETED
    stored = (await world.get(execution.metadata.id)).status
    assert [c.id for c in stored.tool_calls] == [c.id for c in first.tool_calls]
    assert [m.content for m in stored.messages] == [m.content for m in first.messages]
    notes = tmp_path / "sandboxes" / f"local-{session.metadata.id}" / "notes.txt"
    assert notes.read_text() == "turn one was here\n"


async def test_bad_input_is_recorded_failed_and_not_retried(
    activities: RunnerActivities, world: Any
) -> None:
    session = await world.session("mystery-model")
    execution = await world.start(session, "hi")
    thread = await ActivityEnvironment().run(activities.ensure_thread, session.metadata.id, "")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.execute_graphton, _request(execution, thread))
    assert caught.value.type == ERROR_INVALID_INPUT
    assert caught.value.non_retryable
    stored = (await world.get(execution.metadata.id)).status
    assert stored.phase == ExecutionPhase.EXECUTION_FAILED
    assert "mystery-model" in stored.error


async def test_an_empty_id_names_the_field(activities: RunnerActivities) -> None:
    for request, field in (
        (TurnRequest(execution_id="", thread_id="thread-1"), "execution_id"),
        (TurnRequest(execution_id="aex-1", thread_id=""), "thread_id"),
    ):
        with pytest.raises(ApplicationError) as caught:
            await ActivityEnvironment().run(activities.execute_graphton, request)
        assert caught.value.message == f"{field} cannot be empty"
        assert caught.value.non_retryable


async def test_a_second_turn_continues_the_conversation_with_postgresql_checkpoints(
    stigmer_server: StigmerServer,
    clients: StigmerClients,
    world: Any,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    session = await world.session("scripted:demo")
    url = postgres_url_of(postgres_url)
    env = ActivityEnvironment()
    async with open_checkpointer(data_dir=tmp_path, db_url=url) as saver:
        activities = runner_activities(stigmer_server, clients, tmp_path, saver)
        thread = await env.run(activities.ensure_thread, session.metadata.id, "")
        first = await world.start(session, "Show me the demo.")
        assert (await env.run(activities.execute_graphton, _request(first, thread))).phase == (
            ExecutionPhase.EXECUTION_COMPLETED
        )
    # A fresh connection (another runner process would do the same) sees the first turn.
    async with open_checkpointer(data_dir=tmp_path, db_url=url) as saver:
        activities = runner_activities(stigmer_server, clients, tmp_path, saver)
        second = await world.start(session, "Anything left from before?")
        await env.run(activities.execute_graphton, _request(second, thread))
    status = (await world.get(second.metadata.id)).status
    assert status.messages[-1].content == (
        "The note from the first turn is still in the workspace: turn one was here."
    )


async def test_a_provider_model_gets_its_key_from_the_agents_environment(
    activities: RunnerActivities, world: Any, fake_anthropic: FakeAnthropic
) -> None:
    key = fake_anthropic.api_key
    assert key is not None
    fake_anthropic.set_replies(
        [
            Reply(tool_calls=(ToolCall("execute", {"command": "echo from-the-provider"}),)),
            Reply(text="All done.", expect="from-the-provider"),
        ]
    )
    session = await world.session(
        "anthropic:claude-test",
        secrets_env={"ANTHROPIC_API_KEY": key},
        plain_env={"ANTHROPIC_BASE_URL": fake_anthropic.url},
        sub_agents=False,
    )
    execution = await world.start(session, "Say something.")
    env = ActivityEnvironment()
    thread = await env.run(activities.ensure_thread, session.metadata.id, "")
    await env.run(activities.execute_graphton, _request(execution, thread))
    status = (await world.get(execution.metadata.id)).status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert status.messages[-1].content == "All done."
    assert "from-the-provider" in status.tool_calls[0].result
    assert status.usage.total_tokens > 0
    assert len(fake_anthropic.requests_to("POST", "/v1/messages")) == 2
    stored = await world.get(execution.metadata.id)
    assert key.encode() not in stored.SerializeToString()


async def test_a_base_url_without_its_own_key_never_gets_the_operators_key(
    stigmer_server: StigmerServer,
    clients: StigmerClients,
    world: Any,
    fake_anthropic: FakeAnthropic,
    tmp_path: Path,
) -> None:
    # An environment that only redirects the provider: the runner has a key of its own.
    session = await world.session(
        "anthropic:claude-test",
        plain_env={"ANTHROPIC_BASE_URL": fake_anthropic.url},
        sub_agents=False,
    )
    execution = await world.start(session, "Say something.")
    operator = ProviderDefaults(anthropic_api_key="sk-ant-operator-key")
    async with open_checkpointer(data_dir=tmp_path, db_url="") as saver:
        graphs = AgentGraphs(models=DefaultModelFactory(operator), checkpointer=saver)
        activities = runner_activities(stigmer_server, clients, tmp_path, saver, graphs)
        env = ActivityEnvironment()
        thread = await env.run(activities.ensure_thread, session.metadata.id, "")
        with pytest.raises(ApplicationError) as caught:
            await env.run(activities.execute_graphton, _request(execution, thread))
    assert caught.value.type == ERROR_INVALID_INPUT
    assert caught.value.non_retryable
    assert fake_anthropic.requests_to("POST", "/v1/messages") == []
    stored = (await world.get(execution.metadata.id)).status
    assert stored.phase == ExecutionPhase.EXECUTION_FAILED
    assert "ANTHROPIC_BASE_URL is set by environment" in stored.error
    assert "ANTHROPIC_API_KEY" in stored.error


async def test_a_rejected_provider_key_fails_the_turn_without_retry(
    activities: RunnerActivities, world: Any, fake_anthropic: FakeAnthropic
) -> None:
    session = await world.session(
        "anthropic:claude-test",
        secrets_env={"ANTHROPIC_API_KEY": "sk-ant-wrong-key"},
        plain_env={"ANTHROPIC_BASE_URL": fake_anthropic.url},
        sub_agents=False,
    )
    execution = await world.start(session, "Say something.")
    thread = await ActivityEnvironment().run(activities.ensure_thread, session.metadata.id, "")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.execute_graphton, _request(execution, thread))
    assert caught.value.type == ERROR_MODEL_REQUEST_REJECTED
    assert caught.value.non_retryable
    stored = (await world.get(execution.metadata.id)).status
    assert stored.phase == ExecutionPhase.EXECUTION_FAILED
    assert "401" in stored.error
    assert "sk-ant-wrong-key" not in stored.error


SLEEPER = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "sleep 4343"}
  - text: "never reached"
"""


@pytest.mark.parametrize(
    ("details", "phase"),
    [
        (ActivityCancellationDetails(cancel_requested=True), ExecutionPhase.EXECUTION_CANCELLED),
        # Temporal took the attempt away: the retry will resume it, so the phase stays open.
        (ActivityCancellationDetails(timed_out=True), ExecutionPhase.EXECUTION_IN_PROGRESS),
        (ActivityCancellationDetails(worker_shutdown=True), ExecutionPhase.EXECUTION_IN_PROGRESS),
    ],
)
async def test_only_a_users_cancel_ends_the_turn_cancelled(
    activities: RunnerActivities,
    world: Any,
    tmp_path: Path,
    details: ActivityCancellationDetails,
    phase: ExecutionPhase.ValueType,
) -> None:
    session = await world.session(write_script(tmp_path, "sleeper", SLEEPER))
    execution = await world.start(session, "Sleep.")
    env = ActivityEnvironment()
    thread = await env.run(activities.ensure_thread, session.metadata.id, "")
    turn = asyncio.ensure_future(env.run(activities.execute_graphton, _request(execution, thread)))
    await eventually_async(
        lambda: running_commands("sleep 4343", exact=True),
        timeout=30,
        message="the turn's `sleep 4343` to run",
    )
    env.cancel(details)
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert not running_commands("sleep 4343")
    stored = (await world.get(execution.metadata.id)).status
    assert stored.phase == phase
    assert stored.tool_calls[0].status == ToolCallStatus.TOOL_CALL_RUNNING
