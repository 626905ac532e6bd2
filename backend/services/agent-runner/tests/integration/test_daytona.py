"""Whole turns with SANDBOX_TYPE=daytona: the runner process drives the real Daytona SDK and
langchain-daytona against the Daytona protocol fake (commands run for real in a temp dir).

Temporal dev server + stigmer-server + the runner worker process + the scripted model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from runner_world import World, running_commands, write_script

from agent_runner.sandbox import LABEL_ORG
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionId
from stigmer_testing import eventually_async
from stigmer_testing._runner import AgentRunnerFactory, AgentRunnerProcess
from stigmer_testing._server import StigmerServer, start_stigmer_server
from stigmer_testing.fakes import FakeDaytona

pytestmark = pytest.mark.integration

SECRET = "tok-daytona-5ecret"


@pytest.fixture(scope="module")
async def server(temporal_address: str) -> AsyncIterator[StigmerServer]:
    async with start_stigmer_server(temporal_address) as running:
        yield running


def daytona_env(fake: FakeDaytona) -> dict[str, str]:
    assert fake.api_key
    return {
        "SANDBOX_TYPE": "daytona",
        "DAYTONA_API_KEY": fake.api_key,
        "DAYTONA_API_URL": fake.api_url,
        "DAYTONA_TARGET": "us",
        "DAYTONA_AUTO_STOP_MINUTES": "7",
        "DAYTONA_AUTO_DELETE_MINUTES": "60",
        "SANDBOX_REAP_INTERVAL_SECONDS": "0",
        "STATUS_FLUSH_MAX_DELAY_MS": "100",
    }


@pytest.fixture
async def runner(
    server: StigmerServer, fake_daytona: FakeDaytona, agent_runner_factory: AgentRunnerFactory
) -> AsyncIterator[AgentRunnerProcess]:
    async with agent_runner_factory(server, env=daytona_env(fake_daytona)) as process:
        yield process


@pytest.fixture
def world(server: StigmerServer, runner: AgentRunnerProcess, world_for: Any) -> World:
    result: World = world_for(server)
    return result


def creates(fake: FakeDaytona) -> int:
    return len(fake.requests_to("POST", "/api/sandbox"))


async def turn(world: World, session: Any, message: str) -> Any:
    execution = await world.start(session, message)
    final = await world.wait_final(execution.metadata.id)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    return final


async def test_demo_turns_run_in_one_daytona_sandbox_reused_by_the_session(
    world: World, runner: AgentRunnerProcess, fake_daytona: FakeDaytona
) -> None:
    session = await world.session("scripted:demo", secrets_env={"API_TOKEN": SECRET})
    first = await turn(world, session, "Show me the demo.")
    status = first.status
    assert [c.name for c in status.tool_calls] == ["execute", "read_file", "task"]
    assert all(c.status == ToolCallStatus.TOOL_CALL_COMPLETED for c in status.tool_calls)
    # The skill went up in one bulk upload and read_file found it at /skills/... .
    assert "Say hello politely." in status.tool_calls[1].result
    assert (
        len(fake_daytona.requests_to("POST", f"/toolbox/{_only(fake_daytona)}/files/bulk-upload"))
        == 1
    )
    (sub,) = status.sub_agent_executions
    assert sub.tool_calls[0].result.strip().startswith("Linux")
    assert status.usage.total_tokens > 0
    # Created from the merged environment, with our labels and the configured intervals.
    (sandbox,) = fake_daytona.sandboxes()
    stored = await world.get_session(session.metadata.id)
    assert stored.spec.sandbox_id == sandbox.id
    assert sandbox.labels["stigmer.session"] == session.metadata.id
    assert sandbox.labels["stigmer.owner"] == "stigmer"
    assert sandbox.env["GREETING"] == "hello"
    assert sandbox.env["API_TOKEN"] == SECRET
    assert sandbox.request["autoStopInterval"] == 7
    assert sandbox.request["autoDeleteInterval"] == 60
    assert sandbox.request["target"] == "us"
    assert (sandbox.root / "notes.txt").read_text() == "turn one was here\n"
    # The second turn finds the note: same sandbox, no second create.
    second = await turn(world, session, "And again?")
    assert second.status.messages[-1].content.endswith("turn one was here.")
    assert creates(fake_daytona) == 1
    log = runner.log()
    assert daytona_env(fake_daytona)["DAYTONA_API_KEY"] not in log
    assert SECRET not in log
    # The environment did not change between the turns, so no stale-environment warning.
    assert "keeps the environment" not in log


async def test_a_stopped_sandbox_is_started_and_a_deleted_one_replaced(
    world: World, runner: AgentRunnerProcess, fake_daytona: FakeDaytona, tmp_path: Path
) -> None:
    model = write_script(tmp_path, "echo", ECHO)
    session = await world.session(model, sub_agents=False)
    await turn(world, session, "one")
    (sandbox,) = fake_daytona.sandboxes()
    fake_daytona.set_state(sandbox.id, "stopped")
    await turn(world, session, "two")
    assert len(fake_daytona.requests_to("POST", f"/api/sandbox/{sandbox.id}/start")) == 1
    assert creates(fake_daytona) == 1
    fake_daytona.discard(sandbox.id)
    third = await turn(world, session, "three")
    assert creates(fake_daytona) == 2
    (replacement,) = fake_daytona.sandboxes()
    assert replacement.id != sandbox.id
    assert (await world.get_session(session.metadata.id)).spec.sandbox_id == replacement.id
    assert "echo-ran" in third.status.tool_calls[-1].result


async def test_an_errored_sandbox_is_deleted_and_replaced(
    world: World, runner: AgentRunnerProcess, fake_daytona: FakeDaytona, tmp_path: Path
) -> None:
    model = write_script(tmp_path, "echo", ECHO)
    session = await world.session(model, sub_agents=False)
    await turn(world, session, "one")
    (broken,) = fake_daytona.sandboxes()
    fake_daytona.set_state(broken.id, "error")
    await turn(world, session, "two")
    (replacement,) = fake_daytona.sandboxes()
    assert replacement.id != broken.id
    assert len(fake_daytona.requests_to("DELETE", f"/api/sandbox/{broken.id}")) == 1
    assert (await world.get_session(session.metadata.id)).spec.sandbox_id == replacement.id


async def test_a_sandbox_of_another_org_is_never_reused(
    world: World, runner: AgentRunnerProcess, fake_daytona: FakeDaytona, tmp_path: Path
) -> None:
    model = write_script(tmp_path, "echo", ECHO)
    session = await world.session(model, sub_agents=False)
    await turn(world, session, "one")
    (theirs,) = fake_daytona.sandboxes()
    fake_daytona.set_label(theirs.id, LABEL_ORG, "globex")
    await turn(world, session, "two")
    assert creates(fake_daytona) == 2
    assert not fake_daytona.requests_to("DELETE", f"/api/sandbox/{theirs.id}")
    ours = (await world.get_session(session.metadata.id)).spec.sandbox_id
    assert ours != theirs.id
    assert fake_daytona.sandbox(ours).labels.get(LABEL_ORG) is None  # a platform session's
    assert "not of the session's org" in runner.log()


ECHO = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "echo echo-ran"}
  - text: "done"
  - tool_calls:
      - name: execute
        args: {command: "echo echo-ran"}
  - text: "done"
  - tool_calls:
      - name: execute
        args: {command: "echo echo-ran"}
  - text: "done"
"""

CANCEL = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "sleep 4343"}
  - text: "never reached"
"""


async def test_cancel_kills_the_command_running_in_the_sandbox(
    world: World, runner: AgentRunnerProcess, fake_daytona: FakeDaytona, tmp_path: Path
) -> None:
    model = write_script(tmp_path, "cancel", CANCEL)
    session = await world.session(model, sub_agents=False)
    execution = await world.start(session, "Sleep a long time.")
    await eventually_async(
        lambda: running_commands("sleep 4343", exact=True),
        timeout=30,
        message=lambda: "the turn's `sleep 4343` to run\n" + runner.log()[-3000:],
    )
    await world.call(world.executions.cancel, AgentExecutionId(value=execution.metadata.id))
    final = await world.wait_final(execution.metadata.id)
    assert final.status.phase == ExecutionPhase.EXECUTION_CANCELLED
    await eventually_async(
        lambda: not running_commands("sleep 4343"),
        timeout=5,
        message="the cancelled turn's `sleep 4343` to be gone",
    )
    # Killed through the toolbox (the session deleted), not by the fake's teardown.
    (sandbox,) = fake_daytona.sandboxes()
    assert fake_daytona.running_commands(sandbox.id) == []
    assert any(
        r.method == "DELETE" and r.path.startswith(f"/toolbox/{sandbox.id}/process/session/")
        for r in fake_daytona.requests
    )


def _only(fake: FakeDaytona) -> str:
    (sandbox,) = fake.sandboxes()
    return sandbox.id
