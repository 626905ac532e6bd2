"""Whole turns: Temporal dev server + stigmer-server + the runner worker process + the local
sandbox + the scripted model, watched through `subscribe` like a client would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from runner_world import World, running_commands, write_script

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    TodoStatus,
    ToolCallStatus,
)
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionId
from stigmer_testing import eventually_async
from stigmer_testing._runner import AgentRunnerProcess, start_agent_runner
from stigmer_testing._server import StigmerServer, start_stigmer_server

pytestmark = pytest.mark.integration

SECRET = "tok-e2e-5ecret-value"


@pytest.fixture(scope="module")
async def server(temporal_address: str) -> AsyncIterator[StigmerServer]:
    async with start_stigmer_server(temporal_address) as running:
        yield running


@pytest.fixture(scope="module")
async def runner(
    server: StigmerServer, temporal_address: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentRunnerProcess]:
    data_dir = tmp_path_factory.mktemp("runner")
    async with start_agent_runner(
        server, temporal_address, data_dir=data_dir, env={"STATUS_FLUSH_MAX_DELAY_MS": "100"}
    ) as process:
        yield process


@pytest.fixture
def world(server: StigmerServer, runner: AgentRunnerProcess, world_for: Any) -> World:
    result: World = world_for(server)
    return result


async def test_demo_turn_completes_with_everything_and_the_second_turn_continues(
    world: World, runner: AgentRunnerProcess
) -> None:
    session = await world.session("scripted:demo")
    execution = await world.start(session, "Show me the demo.")
    watched = await world.watch(execution.metadata.id)
    stored = await world.get(execution.metadata.id)
    status = stored.status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    # Streamed text reached the watcher ahead of its batched update, as previews.
    previews = [e.preview for e in watched if e.WhichOneof("payload") == "preview"]
    assert previews
    previewed = "".join(t.text for p in previews for t in p.texts)
    final_texts = [m.content for m in status.messages if m.type == MessageType.MESSAGE_AI]
    assert any(text and text in previewed for text in final_texts)
    # Progress arrived before the end: several deltas, the first ones still in progress.
    events = [e for e in watched if e.WhichOneof("payload") != "preview"]
    deltas = [e for e in events if e.WhichOneof("payload") == "delta"]
    assert len(deltas) > 5
    assert [e.sequence for e in events] == list(range(events[0].sequence, events[-1].sequence + 1))
    in_progress = [d for d in deltas if d.delta.phase == ExecutionPhase.EXECUTION_IN_PROGRESS]
    assert in_progress
    assert deltas.index(in_progress[0]) < len(deltas) - 1
    assert any(d.delta.tool_calls for d in deltas[:-1])
    # Messages and tool calls, both lists; todos; a sub-agent execution.
    assert status.messages[0].type == MessageType.MESSAGE_HUMAN
    calls = {c.id: c for c in status.tool_calls}
    assert {c.id for m in status.messages for c in m.tool_calls} == set(calls)
    assert [c.name for c in status.tool_calls] == ["execute", "read_file", "task"]
    assert all(c.status == ToolCallStatus.TOOL_CALL_COMPLETED for c in status.tool_calls)
    assert [status.todos[f"todo-{i}"].status for i in range(4)] == [TodoStatus.TODO_COMPLETED] * 4
    (sub,) = status.sub_agent_executions
    assert sub.name == "researcher"
    assert sub.phase == ExecutionPhase.EXECUTION_COMPLETED
    assert sub.tool_calls[0].display_name == "uname -s"
    assert status.usage.total_tokens > 0
    sandbox_id = (await world.get_session(session.metadata.id)).spec.sandbox_id
    assert sandbox_id

    second = await world.start(session, "Anything left from before?")
    final = await world.wait_final(second.metadata.id)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    answer = final.status.messages[-1]
    # Reply 7 only matches when the model saw turn 1 and `cat notes.txt` found turn 1's note.
    assert answer.content == (
        "The note from the first turn is still in the workspace: turn one was here."
    )
    assert (await world.get_session(session.metadata.id)).spec.sandbox_id == sandbox_id


FAILING = f"""
replies:
  - tool_calls:
      - name: execute
        args: {{command: "echo token=$API_TOKEN; ls /nonexistent-dir"}}
  - tool_calls:
      - name: execute
        args: {{command: "echo still going"}}
  - text: "Done. The token was {SECRET} by the way."
"""


async def test_failing_tool_is_failed_while_the_turn_goes_on_and_secrets_stay_hidden(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    model = write_script(tmp_path, "failing", FAILING)
    session = await world.session(model, secrets_env={"API_TOKEN": SECRET})
    execution = await world.start(session, "Run the failing command.")
    events = await world.watch(execution.metadata.id)
    stored = await world.get(execution.metadata.id)
    status = stored.status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    failed, recovered = status.tool_calls
    assert failed.status == ToolCallStatus.TOOL_CALL_FAILED
    assert "No such file or directory" in failed.error
    assert "token=***" in failed.result
    assert recovered.status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert status.messages[-1].content == "Done. The token was *** by the way."
    assert SECRET.encode() not in stored.SerializeToString()
    for event in events:
        assert SECRET.encode() not in event.SerializeToString()
    assert SECRET not in runner.log()


CANCEL = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "sleep 4242"}
  - text: "never reached"
"""


async def test_cancel_mid_turn_ends_cancelled_and_stops_the_command(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    model = write_script(tmp_path, "cancel", CANCEL)
    session = await world.session(model)
    execution = await world.start(session, "Sleep a long time.")
    await eventually_async(
        lambda: running_commands("sleep 4242", exact=True),
        timeout=30,
        message=lambda: "the turn's `sleep 4242` to run\n" + runner.log()[-3000:],
    )
    await world.call(world.executions.cancel, AgentExecutionId(value=execution.metadata.id))
    final = await world.wait_final(execution.metadata.id)
    assert final.status.phase == ExecutionPhase.EXECUTION_CANCELLED
    await eventually_async(
        lambda: not running_commands("sleep 4242"),
        timeout=5,
        message="the cancelled turn's `sleep 4242` to be gone",
    )
    assert "never reached" not in str(final.status)


# The second command waits for a file the test writes only once the first runner is dead,
# so it is surely interrupted, and the resumed attempt finishes it at once.
WAIT_FOR_GO = "until [ -e go ]; do sleep 0.1; done; echo slept"
CRASH = f"""
replies:
  - tool_calls:
      - name: execute
        args: {{command: "echo ran >> side-effect.log"}}
  - tool_calls:
      - name: execute
        args: {{command: "{WAIT_FOR_GO}"}}
  - text: "finished after the crash"
"""


# Two runner start-ups, each loading the agent stack (35 s seen on a loaded 2-core machine).
@pytest.mark.timeout(360)
async def test_an_attempt_killed_after_a_tool_call_resumes_without_rerunning_it(
    temporal_address: str, world_for: Any, tmp_path: Path
) -> None:
    # A server of its own: only this test's runners poll its queue, and dead runners are
    # noticed after 3 s instead of the contract's 30 s.
    async with start_stigmer_server(
        temporal_address, env={"STIGMER_EXECUTE_GRAPHTON_HEARTBEAT_SECONDS": "3"}
    ) as server:
        world: World = world_for(server)
        model = write_script(tmp_path, "crash", CRASH)
        session = await world.session(model)
        data_dir = tmp_path / "runner"
        sandbox = data_dir / "sandboxes" / f"local-{session.metadata.id}"
        async with contextlib.AsyncExitStack() as runners:
            first = await runners.enter_async_context(
                start_agent_runner(server, temporal_address, data_dir=data_dir)
            )
            execution = await world.start(session, "Do it once.")
            # The second command runs only after the first one's result was checkpointed.
            await eventually_async(
                lambda: running_commands(WAIT_FOR_GO),
                timeout=150,
                message=lambda: "the turn's second command to run\n" + first.log()[-3000:],
            )
            assert (sandbox / "side-effect.log").read_text() == "ran\n", first.log()[-3000:]
            # The replacement is up, its agent stack loaded, before the first one dies: a
            # loading runner can miss the test's 3 s heartbeat and burn the turn's attempts.
            second = await runners.enter_async_context(
                start_agent_runner(server, temporal_address, data_dir=data_dir)
            )
            await eventually_async(
                lambda: "agent stack ready" in second.log(),
                timeout=150,
                message=lambda: "the second runner's agent stack\n" + second.log()[-3000:],
            )
            await first.kill()
            (sandbox / "go").touch()
            final = await world.wait_final(execution.metadata.id, within=150)
            log = second.log()
        assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
        assert (sandbox / "side-effect.log").read_text() == "ran\n"
        assert "resuming from the checkpoint" in log
        assert final.status.messages[-1].content == "finished after the crash"
        calls = final.status.tool_calls
        assert [c.status for c in calls] == [ToolCallStatus.TOOL_CALL_COMPLETED] * 2
        assert "slept" in calls[1].result


DRAIN = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "sleep 2 && echo drained-sleep"}
  - text: "finished while draining"
"""


@pytest.mark.timeout(300)
async def test_sigterm_drains_a_running_turn_within_the_grace_period(
    temporal_address: str, world_for: Any, tmp_path: Path
) -> None:
    async with start_stigmer_server(temporal_address) as server:
        world: World = world_for(server)
        session = await world.session(write_script(tmp_path, "drain", DRAIN))
        async with start_agent_runner(
            server, temporal_address, env={"SHUTDOWN_GRACE_SECONDS": "20"}
        ) as runner:
            execution = await world.start(session, "Take your time.")
            await eventually_async(
                lambda: running_commands("sleep 2 && echo drained-sleep"),
                # The runner's agent stack loads first (45 s seen on a loaded machine).
                timeout=150,
                message=lambda: "the turn's command to run\n" + runner.log()[-3000:],
            )
            assert await runner.stop() == 0
            log = runner.log()
        final = await world.wait_final(execution.metadata.id, within=30)
        assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
        assert final.status.messages[-1].content == "finished while draining"
        assert "draining" in log
        assert "agent-runner stopped" in log
