"""Tool calls that wait for a person: real Temporal dev server, stigmer-server and runner
processes, the local sandbox and scripted models (docs/guides/approvals.md)."""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from runner_world import World, write_script

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agent.v1.query_pb2_grpc import AgentQueryControllerStub
from ai.stigmer.agentic.agent.v1.spec_pb2 import (
    ApprovalDecisionType,
    ApprovalTimeoutAction,
    ToolApprovalRule,
)
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    ToolCallDecision,
    ToolCallDecisions,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import ToolCall
from ai.stigmer.agentic.agentinstance.v1.io_pb2 import AgentInstanceId
from ai.stigmer.agentic.agentinstance.v1.query_pb2_grpc import AgentInstanceQueryControllerStub
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from ai.stigmer.iam.apikey.v1.command_pb2_grpc import ApiKeyCommandControllerStub
from ai.stigmer.iam.apikey.v1.enum_pb2 import ApiKeyRole
from stigmer_testing import eventually_async, free_port
from stigmer_testing._runner import AgentRunnerProcess, start_agent_runner
from stigmer_testing._server import StigmerServer, start_stigmer_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

APPROVE = ApprovalDecisionType.APPROVAL_DECISION_APPROVE
EDIT = ApprovalDecisionType.APPROVAL_DECISION_EDIT
REJECT = ApprovalDecisionType.APPROVAL_DECISION_REJECT
AWAITING = ExecutionPhase.EXECUTION_AWAITING_APPROVAL
EXECUTE_RULE = ToolApprovalRule(tool="execute")


METRICS_PORT = free_port()


@pytest.fixture(scope="module")
async def server(temporal_address: str) -> AsyncIterator[StigmerServer]:
    env = {"STIGMER_METRICS_ADDRESS": f"127.0.0.1:{METRICS_PORT}"}
    async with start_stigmer_server(temporal_address, env=env) as running:
        yield running


def decisions_counted(decision: str, by: str) -> float:
    """The server's approval-decision counter, scraped from its metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as page:
        text = page.read().decode()
    wanted = f'stigmer_server_approval_decisions_total{{by="{by}",decision="{decision}"}}'
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


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


def all_calls(execution: AgentExecution) -> Iterator[ToolCall]:
    yield from execution.status.tool_calls
    for sub in execution.status.sub_agent_executions:
        yield from sub.tool_calls


def waiting(execution: AgentExecution) -> list[ToolCall]:
    return [
        c for c in all_calls(execution) if c.status == ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL
    ]


async def wait_for_calls(world: World, execution_id: str, ids: set[str]) -> AgentExecution:
    """The execution once it waits for approval on exactly the calls `ids`."""
    last = AgentExecution()

    async def ready() -> AgentExecution | None:
        nonlocal last
        last = await world.get(execution_id)
        undecided = {c.id for c in waiting(last) if not c.approval.decision}
        if last.status.phase == AWAITING and undecided == ids:
            return last
        return None

    found: AgentExecution = await eventually_async(
        ready,
        timeout=150,
        interval=0.2,
        message=lambda: f"{execution_id} to wait on {ids}; last status: {last.status}",
    )
    return found


async def decide(world: World, execution_id: str, *decisions: ToolCallDecision) -> AgentExecution:
    result: AgentExecution = await world.call(
        world.executions.decide,
        ToolCallDecisions(execution_id=execution_id, decisions=list(decisions)),
    )
    return result


async def viewer_key(world: World) -> str:
    key = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
    key.metadata.name = "approvals-viewer"
    key.spec.role = ApiKeyRole.ROLE_VIEWER
    created = await world.call(ApiKeyCommandControllerStub(world.channel).create, key)
    return str(created.key)


def sandbox_of(runner: AgentRunnerProcess, session_id: str) -> Path:
    return runner.data_dir / "sandboxes" / f"local-{session_id}"


TWO_ROUNDS = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "echo first >> approved.log"}
  - tool_calls:
      - name: execute
        args: {command: "echo second >> approved.log"}
  - text: "both ran"
"""


async def test_approve_waits_without_a_runner_slot_then_runs_and_records_who(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    session = await world.session(
        write_script(tmp_path, "two-rounds", TWO_ROUNDS), tool_approvals=[EXECUTE_RULE]
    )
    execution = await world.start(session, "Run two commands.")
    eid = execution.metadata.id
    waiting_now = await wait_for_calls(world, eid, {"main-call-0-0"})
    [call] = waiting(waiting_now)
    assert call.name == "execute"
    assert call.args["command"] == "echo first >> approved.log"
    assert list(call.approval.allowed_decisions) == [APPROVE, EDIT, REJECT]
    assert "command" in MessageToDict(call.approval.args_schema)["properties"]
    assert call.approval.HasField("requested_at")
    assert not call.approval.HasField("expires_at")
    log = sandbox_of(runner, session.metadata.id) / "approved.log"
    assert not log.exists(), "the command ran before anyone approved it"
    # No activity holds the turn while it waits.
    assert "waiting for approval" in runner.log()
    answered = await decide(world, eid, ToolCallDecision(tool_call_id=call.id, type=APPROVE))
    [decided] = [c for c in all_calls(answered) if c.id == call.id]
    assert decided.approval.decision == APPROVE
    assert decided.approval.decided_by
    assert decided.approval.HasField("decided_at")
    # Round two: the next command waits in turn.
    await wait_for_calls(world, eid, {"main-call-1-0"})
    await decide(world, eid, ToolCallDecision(tool_call_id="main-call-1-0", type=APPROVE))
    final = await world.wait_final(eid)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    assert log.read_text() == "first\nsecond\n"
    calls = {c.id: c for c in final.status.tool_calls}
    assert calls["main-call-0-0"].status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert calls["main-call-0-0"].approval.decided_by == decided.approval.decided_by
    assert final.status.messages[-1].content == "both ran"


EDITED = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "echo model-wanted > edited.txt"}
  - text: "edited ran"
    expect: "person-wanted"
"""


async def test_edit_runs_the_edited_args(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    session = await world.session(
        write_script(tmp_path, "edit", EDITED), tool_approvals=[EXECUTE_RULE]
    )
    execution = await world.start(session, "Write a file.")
    eid = execution.metadata.id
    before = await wait_for_calls(world, eid, {"main-call-0-0"})
    # Edited args must fit the tool's schema (reported by the runner with the call).
    misfit = Struct()
    misfit.update({"command": 42})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await decide(
            world, eid, ToolCallDecision(tool_call_id="main-call-0-0", type=EDIT, args=misfit)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "decisions[0].args.command" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-0", type=EDIT))
    assert "decisions[0].args: required" in (missing.value.details() or "")
    # A viewer may watch the turn but not decide.
    viewer = await viewer_key(world)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await world.executions.decide(
            ToolCallDecisions(
                execution_id=eid,
                decisions=[ToolCallDecision(tool_call_id="main-call-0-0", type=APPROVE)],
            ),
            metadata=(("authorization", f"Bearer {viewer}"),),
            timeout=30,
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await world.get(eid)).status == before.status
    args = Struct()
    args.update({"command": "echo person-wanted > edited.txt && cat edited.txt"})
    await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-0", type=EDIT, args=args))
    final = await world.wait_final(eid)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    written = sandbox_of(runner, session.metadata.id) / "edited.txt"
    assert written.read_text() == "person-wanted\n"
    [call] = final.status.tool_calls
    assert call.approval.decision == EDIT
    assert str(call.approval.edited_args["command"]).startswith("echo person-wanted")
    assert call.status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert final.status.messages[-1].content == "edited ran"


REJECTED = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "echo should-not-run > rejected.txt"}
  - text: "understood, I will not"
    expect: "not on production"
"""


async def test_reject_returns_the_message_to_the_model(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    session = await world.session(
        write_script(tmp_path, "reject", REJECTED), tool_approvals=[EXECUTE_RULE]
    )
    execution = await world.start(session, "Do something risky.")
    eid = execution.metadata.id
    await wait_for_calls(world, eid, {"main-call-0-0"})
    # The session's next turn waits behind the one waiting for a person.
    behind = await world.start(session, "And then?")
    assert (await world.get(behind.metadata.id)).status.phase == ExecutionPhase.EXECUTION_PENDING
    await decide(
        world,
        eid,
        ToolCallDecision(tool_call_id="main-call-0-0", type=REJECT, message="not on production"),
    )
    final = await world.wait_final(eid)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    assert not (sandbox_of(runner, session.metadata.id) / "rejected.txt").exists()
    [call] = final.status.tool_calls
    assert call.status == ToolCallStatus.TOOL_CALL_REJECTED
    assert "not on production" in call.result
    assert call.approval.message == "not on production"
    assert final.status.messages[-1].content == "understood, I will not"
    after = await world.wait_final(behind.metadata.id)
    assert after.status.phase == ExecutionPhase.EXECUTION_COMPLETED, after.status.error
    assert after.status.started_at.ToNanoseconds() >= final.status.completed_at.ToNanoseconds()


TWO_AT_ONCE = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "echo one >> pair.log"}
      - name: ls
        args: {path: "/"}
      - name: execute
        args: {command: "echo two >> pair.log"}
  - text: "one ran, two did not"
"""


async def test_two_calls_of_one_step_are_decided_separately_and_bad_decisions_change_nothing(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    rule = ToolApprovalRule(tool="exec*", allowed_decisions=[APPROVE, REJECT])
    session = await world.session(
        write_script(tmp_path, "pair", TWO_AT_ONCE), tool_approvals=[rule]
    )
    execution = await world.start(session, "Two commands.")
    eid = execution.metadata.id
    before = await wait_for_calls(world, eid, {"main-call-0-0", "main-call-0-2"})
    bad = [
        # unknown call, a decision the rule does not allow, edit args on an approve
        (ToolCallDecision(tool_call_id="nope", type=APPROVE), "decisions[0].tool_call_id"),
        (ToolCallDecision(tool_call_id="main-call-0-0", type=EDIT), "decisions[0].type"),
        (ToolCallDecision(tool_call_id="main-call-0-1", type=APPROVE), "decisions[0].tool_call_id"),
        (ToolCallDecision(tool_call_id="main-call-0-0"), "decisions[0].type"),
    ]
    for decision, field in bad:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await decide(world, eid, decision)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, decision
        assert field in (refused.value.details() or ""), refused.value.details()
    assert (await world.get(eid)).status == before.status
    first = await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-0", type=APPROVE))
    assert first.status.phase == AWAITING
    # Decided once: a second decision on the same call is refused and changes nothing.
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-0", type=REJECT))
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already decided" in (again.value.details() or "")
    log = sandbox_of(runner, session.metadata.id) / "pair.log"
    assert not log.exists(), "nothing runs until every call of the step is decided"
    await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-2", type=REJECT))
    final = await world.wait_final(eid)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    assert log.read_text() == "one\n"
    calls = {c.id: c for c in final.status.tool_calls}
    assert calls["main-call-0-0"].status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert not calls["main-call-0-1"].HasField("approval")
    assert calls["main-call-0-1"].status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert calls["main-call-0-2"].status == ToolCallStatus.TOOL_CALL_REJECTED
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-2", type=APPROVE))
    assert ended.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "execution_id" in (ended.value.details() or "")


SUB_AGENT = """
replies:
  - tool_calls:
      - name: task
        args: {description: "Check the system.", subagent_type: researcher}
  - text: "the researcher reported"
subagents:
  researcher:
    replies:
      - tool_calls:
          - name: execute
            args: {command: "echo researcher-ran > sub.txt"}
      - text: "done researching"
"""


async def test_a_sub_agents_call_waits_under_its_own_rules(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    session = await world.session(
        write_script(tmp_path, "sub", SUB_AGENT), researcher_tool_approvals=[EXECUTE_RULE]
    )
    execution = await world.start(session, "Ask the researcher.")
    eid = execution.metadata.id
    waiting_now = await wait_for_calls(world, eid, {"researcher-call-0-0"})
    [sub] = waiting_now.status.sub_agent_executions
    assert [c.id for c in sub.tool_calls if c.approval.allowed_decisions] == ["researcher-call-0-0"]
    await decide(world, eid, ToolCallDecision(tool_call_id="researcher-call-0-0", type=APPROVE))
    final = await world.wait_final(eid)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    text = (sandbox_of(runner, session.metadata.id) / "sub.txt").read_text()
    assert text == "researcher-ran\n"
    [sub] = final.status.sub_agent_executions
    [call] = [c for c in sub.tool_calls if c.id == "researcher-call-0-0"]
    assert call.status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert call.approval.decision == APPROVE


async def test_a_timeout_rejects_and_cancel_while_waiting_cancels(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    quick = ToolApprovalRule(
        tool="execute",
        timeout=Duration(seconds=1),
        on_timeout=ApprovalTimeoutAction.APPROVAL_TIMEOUT_REJECT,
    )
    session = await world.session(
        write_script(tmp_path, "timeout", REJECTED.replace("not on production", "was not run")),
        tool_approvals=[quick],
    )
    execution = await world.start(session, "Try it.")
    final = await world.wait_final(execution.metadata.id)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    [call] = final.status.tool_calls
    assert call.status == ToolCallStatus.TOOL_CALL_REJECTED
    assert call.approval.decided_by == "system:timeout"
    assert call.approval.HasField("expires_at")
    assert decisions_counted("reject", "timeout") >= 1
    # on_timeout FAIL ends the turn FAILED, naming the call.
    failing = ToolApprovalRule(
        tool="execute",
        timeout=Duration(seconds=1),
        on_timeout=ApprovalTimeoutAction.APPROVAL_TIMEOUT_FAIL,
    )
    strict = await world.session(
        write_script(tmp_path, "timeout-fail", REJECTED), tool_approvals=[failing]
    )
    failed_turn = await world.start(strict, "Try it strictly.")
    failed = await world.wait_final(failed_turn.metadata.id)
    assert failed.status.phase == ExecutionPhase.EXECUTION_FAILED
    assert "main-call-0-0 (execute) waited more than 1 seconds" in failed.status.error
    # Cancel while waiting: the turn ends CANCELLED and the session serves the next turn.
    other = await world.session(
        write_script(tmp_path, "cancel", REJECTED), tool_approvals=[EXECUTE_RULE]
    )
    waiting_turn = await world.start(other, "Wait.")
    await wait_for_calls(world, waiting_turn.metadata.id, {"main-call-0-0"})
    await world.call(world.executions.cancel, AgentExecutionId(value=waiting_turn.metadata.id))
    cancelled = await world.wait_final(waiting_turn.metadata.id)
    assert cancelled.status.phase == ExecutionPhase.EXECUTION_CANCELLED
    assert not (sandbox_of(runner, other.metadata.id) / "rejected.txt").exists()


async def test_a_rule_removed_while_a_call_waits_fails_the_turn_instead_of_skipping_it(
    world: World, runner: AgentRunnerProcess, tmp_path: Path
) -> None:
    session = await world.session(
        write_script(tmp_path, "removed", REJECTED), tool_approvals=[EXECUTE_RULE]
    )
    execution = await world.start(session, "Wait for me.")
    eid = execution.metadata.id
    await wait_for_calls(world, eid, {"main-call-0-0"})
    instance = await world.call(
        AgentInstanceQueryControllerStub(world.channel).get,
        AgentInstanceId(value=session.spec.agent_instance_id),
    )
    agents = AgentQueryControllerStub(world.channel)
    agent = await world.call(agents.get, AgentId(value=instance.spec.agent_id))
    del agent.spec.tool_approvals[:]
    await world.call(world.agents.update, agent)
    await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-0", type=APPROVE))
    final = await world.wait_final(eid)
    assert final.status.phase == ExecutionPhase.EXECUTION_FAILED
    assert "main-call-0-0, which the agent's rules no longer gate" in final.status.error
    assert not (sandbox_of(runner, session.metadata.id) / "rejected.txt").exists()


RESTARTS = """
replies:
  - tool_calls:
      - name: execute
        args: {command: "echo after-restarts > restarted.txt"}
  - text: "ran after the restarts"
"""


# Two server start-ups and two runner start-ups (the agent stack loads in each runner).
@pytest.mark.timeout(480)
async def test_a_decision_after_the_runner_and_the_server_restarted(
    temporal_address: str, world_for: Any, tmp_path: Path
) -> None:
    port = free_port()
    server_dir = tmp_path / "server"
    fixed = {"STIGMER_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    runner_dir = tmp_path / "runner"
    async with contextlib.AsyncExitStack() as first_server:
        server = await first_server.enter_async_context(
            start_stigmer_server(temporal_address, env=fixed, data_dir=server_dir)
        )
        same = {
            **fixed,
            "STIGMER_API_KEYS": server.api_key,
            "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE": server.execution_task_queue,
            "EXECUTION_PERSISTENCE_TASK_QUEUE": server.persistence_task_queue,
        }
        world: World = world_for(server)
        session = await world.session(
            write_script(tmp_path, "restarts", RESTARTS), tool_approvals=[EXECUTE_RULE]
        )
        async with start_agent_runner(server, temporal_address, data_dir=runner_dir) as first:
            execution = await world.start(session, "Survive restarts.")
            eid = execution.metadata.id
            await wait_for_calls(world, eid, {"main-call-0-0"})
            await first.kill()
    # Both gone while the turn waits; a new server on the same database and queues, then a
    # new runner with the same checkpoints.
    async with start_stigmer_server(temporal_address, env=same, data_dir=server_dir) as again:
        world = world_for(again)
        await wait_for_calls(world, eid, {"main-call-0-0"})
        async with start_agent_runner(again, temporal_address, data_dir=runner_dir) as second:
            await decide(world, eid, ToolCallDecision(tool_call_id="main-call-0-0", type=APPROVE))
            final = await world.wait_final(eid, within=200)
            log = second.log()
        assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
        assert (
            runner_dir / "sandboxes" / f"local-{session.metadata.id}" / "restarted.txt"
        ).exists()
        assert "with 1 decision(s)" in log
        assert final.status.messages[-1].content == "ran after the restarts"
