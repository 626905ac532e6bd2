"""MCP servers as agent tools, end to end in the runner against real MCP servers.

A FastMCP server over streamable HTTP on loopback wants a bearer token that only a secret
environment value holds; the example's stdio server runs inside the session's sandbox
(bubblewrap where the host allows it). A scripted model calls their tools.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from mcp_world import SlowTool, example_stdio_server, http_mcp_server, http_server, serving
from runner_world import running_commands, write_script
from temporalio.activity import ActivityCancellationDetails
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from agent_runner.activities import RunnerActivities, TurnDependencies
from agent_runner.checkpoints import open_checkpointer
from agent_runner.clients import StigmerClients
from agent_runner.config import FlushPolicy, TurnSettings
from agent_runner.errors import ERROR_MCP_SERVER
from agent_runner.graphs import AgentGraphs
from agent_runner.models import DefaultModelFactory, ProviderDefaults
from agent_runner.sandbox import LocalSandboxProvider, LocalSandboxSettings
from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType, ToolApprovalRule
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, ToolCall
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from stigmer_contracts import ERROR_INVALID_INPUT, ApprovalDecision, TurnRequest
from stigmer_telemetry.logs import QUIET
from stigmer_testing import eventually_async
from stigmer_testing._server import StigmerServer

pytestmark = pytest.mark.integration

RUNNER_ONLY = "STIGMER_TEST_RUNNER_ONLY"
# The example's program is passed inline: this line of it marks its process.
STDIO_MARKER = 'NOTES = Path("mcp-notes.txt")'


@pytest.fixture
async def clients(stigmer_server: StigmerServer) -> AsyncIterator[StigmerClients]:
    result = StigmerClients.connect(stigmer_server.address, stigmer_server.api_key)
    yield result
    await result.close()


@pytest.fixture
async def graphs(tmp_path: Path) -> AsyncIterator[AgentGraphs]:
    async with open_checkpointer(data_dir=tmp_path, db_url="") as saver:
        models = DefaultModelFactory(ProviderDefaults(scripts_dir=tmp_path))
        yield AgentGraphs(models=models, checkpointer=saver)


def _activities(
    clients: StigmerClients, graphs: AgentGraphs, root: Path, *, isolation: str = "auto"
) -> RunnerActivities:
    dependencies = TurnDependencies(
        sandboxes=LocalSandboxProvider(
            LocalSandboxSettings(
                root=root,
                command_timeout=30,
                max_output_bytes=10_000,
                isolation=isolation,
                network=False,
            )
        ),
        graphs=graphs,
        settings=TurnSettings(default_model="scripted:demo", flush=FlushPolicy()),
    )
    ready: asyncio.Future[TurnDependencies] = asyncio.get_running_loop().create_future()
    ready.set_result(dependencies)
    return RunnerActivities(clients=clients, dependencies=ready, heartbeat_interval=0.5)


@pytest.fixture
async def activities(
    clients: StigmerClients, graphs: AgentGraphs, tmp_path: Path
) -> RunnerActivities:
    return _activities(clients, graphs, tmp_path / "sandboxes")


@pytest.fixture
def world(stigmer_server: StigmerServer, world_for: Any) -> Any:
    return world_for(stigmer_server)


def _runner_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Everything at DEBUG, except what the runner's own logging config holds down."""
    caplog.set_level(logging.DEBUG)
    for name, ceiling in QUIET.items():
        logging.getLogger(name).setLevel(ceiling)


def _runner_log(caplog: pytest.LogCaptureFixture) -> str:
    """The captured log less the test's own MCP server (it runs in this process too)."""
    server_side = ("mcp.server", "uvicorn", "sse_starlette", "starlette")
    return "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith(server_side)
    )


async def _create(world: Any, server: McpServer) -> str:
    created: McpServer = await world.call(world.mcp_servers.create, server)
    return created.metadata.slug


async def _run(activities: RunnerActivities, world: Any, execution: AgentExecution) -> None:
    session_id = execution.spec.session_id
    env = ActivityEnvironment()
    thread = await env.run(activities.ensure_thread, session_id, "")
    await env.run(
        activities.execute_graphton,
        TurnRequest(execution_id=execution.metadata.id, thread_id=thread),
    )


def _calls(status: AgentExecutionStatus) -> dict[str, ToolCall]:
    """Every tool call, the sub-agents' included, by `<namespace>/<name>`."""
    calls = {f"/{c.name}": c for c in status.tool_calls}
    for sub in status.sub_agent_executions:
        calls.update({f"{sub.name}/{c.name}": c for c in sub.tool_calls})
    return calls


def _script(alpha: str, beta: str) -> str:
    return f"""
replies:
  - tool_calls:
      - {{name: mcp_{alpha}_echo, args: {{text: hi}}}}
      - {{name: mcp_{beta}_echo, args: {{text: hi}}}}
  - tool_calls:
      - {{name: mcp_{alpha}_whoami, args: {{}}}}
  - tool_calls:
      - {{name: mcp_{alpha}_fail, args: {{text: on purpose}}}}
  - tool_calls:
      - {{name: mcp_{alpha}_hidden, args: {{}}}}
    expect: "boom: on purpose"
  - tool_calls:
      - name: task
        args: {{description: "List the server's environment.", subagent_type: researcher}}
  - text: done
subagents:
  researcher:
    replies:
      - tool_calls:
          - {{name: mcp_{beta}_environment, args: {{}}}}
      - tool_calls:
          - {{name: mcp_{alpha}_echo, args: {{text: not mine}}}}
      - text: listed
"""


async def test_http_and_stdio_tools_reach_the_model_each_agent_its_own(
    activities: RunnerActivities,
    graphs: AgentGraphs,
    world: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _runner_logging(caplog)
    monkeypatch.setenv(RUNNER_ONLY, "the runner's own")
    token = f"tok-{secrets.token_hex(12)}"
    suffix = secrets.token_hex(3)
    async with serving(http_server(token)) as url:
        alpha = await _create(
            world, http_mcp_server(f"alpha-{suffix}", url, tools=["echo", "whoami", "fail"])
        )
        beta = await _create(world, example_stdio_server(f"beta-{suffix}"))
        session = await world.session(
            write_script(tmp_path, "mcp", _script(alpha, beta)),
            secrets_env={"MCP_TOKEN": token},
            mcp_servers=[alpha, beta],
            researcher_mcp_servers=[beta],
        )
        execution = await world.start(session, "Use the MCP tools.")
        await _run(activities, world, execution)
    status = (await world.get(execution.metadata.id)).status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    calls = _calls(status)
    assert len(calls) == 8, sorted(calls)

    # Both servers expose `echo`: each server's own answers under its own name.
    assert calls[f"/mcp_{alpha}_echo"].result == "[http] hi"
    assert calls[f"/mcp_{beta}_echo"].result == "[stdio] hi"
    for name, server in ((f"mcp_{alpha}_echo", alpha), (f"mcp_{beta}_echo", beta)):
        component = calls[f"/{name}"].component
        assert component.type == "mcp"
        assert dict(component.context) == {"server": server, "tool": "echo"}
    # The header came from the secret: the server got it, the status shows it redacted.
    assert calls[f"/mcp_{alpha}_whoami"].result == "you sent Bearer ***"
    # A tool's own error is the model's to read, and the turn goes on.
    failed = calls[f"/mcp_{alpha}_fail"]
    assert failed.status == ToolCallStatus.TOOL_CALL_FAILED
    assert "boom: on purpose" in failed.result
    # Not in the allow-list: the model has no such tool.
    assert calls[f"/mcp_{alpha}_hidden"].status == ToolCallStatus.TOOL_CALL_FAILED
    # The researcher has the stdio server only, running in the sandbox with the turn's
    # environment and nothing of the runner's.
    names = set(calls[f"researcher/mcp_{beta}_environment"].result.split())
    assert {"GREETING", "MCP_TOKEN", "NOTES_OWNER", "PATH", "HOME"} <= names
    assert not names & {RUNNER_ONLY, "USER", "LOGNAME", "SHELL"}
    assert calls[f"researcher/mcp_{alpha}_echo"].status == ToolCallStatus.TOOL_CALL_FAILED

    assert token not in str(status)
    assert token not in _runner_log(caplog)
    assert (graphs.builds, graphs.uncached_builds) == (0, 1)
    # The turn's end closed the stdio server.
    await eventually_async(
        lambda: not running_commands(STDIO_MARKER),
        timeout=15,
        message="the stdio MCP server to stop after the turn",
    )


async def _failed_turn(
    activities: RunnerActivities, world: Any, tmp_path: Path, server: McpServer, token: str
) -> tuple[ApplicationError, AgentExecutionStatus]:
    slug = await _create(world, server)
    script = f"replies:\n  - tool_calls:\n      - {{name: mcp_{slug}_echo, args: {{text: x}}}}\n"
    session = await world.session(
        write_script(tmp_path, slug, script + "  - text: never\n"),
        secrets_env={"MCP_TOKEN": token},
        mcp_servers=[slug],
    )
    execution = await world.start(session, "Use the MCP tool.")
    with pytest.raises(ApplicationError) as caught:
        await _run(activities, world, execution)
    return caught.value, (await world.get(execution.metadata.id)).status


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_server_that_cannot_be_reached_fails_the_turn_naming_it(
    activities: RunnerActivities, world: Any, tmp_path: Path
) -> None:
    slug = f"down-{secrets.token_hex(3)}"
    url = f"http://127.0.0.1:{_closed_port()}/mcp"
    error, status = await _failed_turn(
        activities, world, tmp_path, http_mcp_server(slug, url, tools=[]), "tok-unused"
    )
    assert error.type == ERROR_MCP_SERVER
    assert not error.non_retryable
    assert f"McpServer {slug!r}" in str(error)
    assert url in str(error)
    assert f"McpServer {slug!r}" in status.error


async def test_a_server_refusing_the_token_fails_the_turn_for_good(
    activities: RunnerActivities, world: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _runner_logging(caplog)
    slug = f"locked-{secrets.token_hex(3)}"
    wrong = f"wrong-{secrets.token_hex(12)}"
    async with serving(http_server("the-right-token")) as url:
        error, status = await _failed_turn(
            activities, world, tmp_path, http_mcp_server(slug, url, tools=[]), wrong
        )
    assert error.type == ERROR_INVALID_INPUT
    assert error.non_retryable
    assert f"McpServer {slug!r}" in str(error)
    assert "401" in str(error)
    assert status.phase == ExecutionPhase.EXECUTION_FAILED
    assert wrong not in str(status)
    assert wrong not in _runner_log(caplog)


async def test_a_slow_tool_is_cancelled_with_the_turn(
    activities: RunnerActivities, world: Any, tmp_path: Path
) -> None:
    slow = SlowTool()
    slug = f"slow-{secrets.token_hex(3)}"
    script = f"""
replies:
  - tool_calls:
      - {{name: mcp_{slug}_slow, args: {{seconds: 600}}}}
  - text: never reached
"""
    async with serving(http_server("tok-slow-1234", slow)) as url:
        await _create(world, http_mcp_server(slug, url, tools=[]))
        session = await world.session(
            write_script(tmp_path, "slow", script),
            secrets_env={"MCP_TOKEN": "tok-slow-1234"},
            mcp_servers=[slug],
        )
        execution = await world.start(session, "Be slow.")
        env = ActivityEnvironment()
        thread = await env.run(activities.ensure_thread, session.metadata.id, "")
        turn = asyncio.ensure_future(
            env.run(
                activities.execute_graphton,
                TurnRequest(execution_id=execution.metadata.id, thread_id=thread),
            )
        )
        async with asyncio.timeout(60):
            await slow.started.wait()
        env.cancel(ActivityCancellationDetails(cancel_requested=True))
        with pytest.raises(asyncio.CancelledError):
            await turn
        # Closing the turn's MCP session ends the call on the server too.
        async with asyncio.timeout(30):
            await slow.cancelled.wait()
    stored = (await world.get(execution.metadata.id)).status
    assert stored.phase == ExecutionPhase.EXECUTION_CANCELLED


async def test_a_tool_past_its_servers_tool_timeout_is_a_tool_error_and_the_turn_goes_on(
    activities: RunnerActivities, world: Any, tmp_path: Path
) -> None:
    slow = SlowTool()
    slug = f"hung-{secrets.token_hex(3)}"
    script = f"""
replies:
  - tool_calls:
      - {{name: mcp_{slug}_slow, args: {{seconds: 600}}}}
  - text: went on without it
"""
    async with serving(http_server("tok-hung-1234", slow)) as url:
        server = http_mcp_server(slug, url, tools=[])
        server.spec.tool_timeout.seconds = 1
        await _create(world, server)
        session = await world.session(
            write_script(tmp_path, "hung", script),
            secrets_env={"MCP_TOKEN": "tok-hung-1234"},
            mcp_servers=[slug],
        )
        execution = await world.start(session, "Call the hung tool.")
        await _run(activities, world, execution)
    status = (await world.get(execution.metadata.id)).status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    call = _calls(status)[f"/mcp_{slug}_slow"]
    assert call.status == ToolCallStatus.TOOL_CALL_FAILED
    assert "no answer within 1 s" in call.result
    assert slow.started.is_set()
    assert "went on without it" in str(status)


FASTMCP_STDIO = """
import os
from mcp.server.fastmcp import FastMCP

mcp = FastMCP("gamma")


@mcp.tool()
def add(a: int, b: int) -> int:
    \"\"\"Adds two integers.\"\"\"
    return a + b


@mcp.tool()
def where() -> str:
    \"\"\"The working directory and the names of the environment's variables.\"\"\"
    return os.getcwd() + " " + " ".join(sorted(os.environ))


mcp.run()
"""


async def test_a_fastmcp_stdio_server_in_an_unisolated_sandbox(
    clients: StigmerClients,
    graphs: AgentGraphs,
    world: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Unisolated, so that the server can import the MCP SDK from this interpreter's
    # environment (bubblewrap shows the sandbox only the host's system directories).
    monkeypatch.setenv(RUNNER_ONLY, "the runner's own")
    activities = _activities(clients, graphs, tmp_path / "plain", isolation="none")
    slug = f"gamma-{secrets.token_hex(3)}"
    server = McpServer(api_version="agentic.stigmer.ai/v1", kind="McpServer")
    server.metadata.name = slug
    server.spec.stdio.command = sys.executable
    server.spec.stdio.args.append("server.py")
    server.spec.stdio.env["SERVER_MODE"] = "${GREETING}-mode"
    await _create(world, server)
    script = f"""
replies:
  - tool_calls:
      - {{name: mcp_{slug}_add, args: {{a: 1, b: 2}}}}
      - {{name: mcp_{slug}_where, args: {{}}}}
  - text: done
"""
    session = await world.session(
        write_script(tmp_path, "gamma", script), mcp_servers=[slug], sub_agents=False
    )
    workspace = tmp_path / "plain" / f"local-{session.metadata.id}"
    workspace.mkdir(parents=True)
    (workspace / "server.py").write_text(FASTMCP_STDIO)
    execution = await world.start(session, "Add.")
    await _run(activities, world, execution)
    status = (await world.get(execution.metadata.id)).status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    calls = _calls(status)
    assert calls[f"/mcp_{slug}_add"].result == "3"
    cwd, *names = calls[f"/mcp_{slug}_where"].result.split()
    assert cwd == str(workspace)
    assert {"GREETING", "SERVER_MODE", "PATH", "HOME"} <= set(names)
    assert not set(names) & {RUNNER_ONLY, "USER", "LOGNAME", "SHELL"}


async def test_a_server_lost_during_a_call_fails_only_that_call(
    activities: RunnerActivities, world: Any, tmp_path: Path
) -> None:
    slow = SlowTool()
    slug = f"lost-{secrets.token_hex(3)}"
    script = f"""
replies:
  - tool_calls:
      - {{name: mcp_{slug}_slow, args: {{seconds: 600}}}}
  - text: carried on
    expect: session ended
"""
    async with serving(http_server("tok-lost-1234", slow)) as url:
        await _create(world, http_mcp_server(slug, url, tools=[]))
        session = await world.session(
            write_script(tmp_path, "lost", script),
            secrets_env={"MCP_TOKEN": "tok-lost-1234"},
            mcp_servers=[slug],
        )
        execution = await world.start(session, "Be slow.")
        turn = asyncio.ensure_future(_run(activities, world, execution))
        async with asyncio.timeout(60):
            await slow.started.wait()
    # The server is gone: the owner's next ping fails, which releases the waiting call.
    async with asyncio.timeout(60):
        await turn
    status = (await world.get(execution.metadata.id)).status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    call = status.tool_calls[0]
    assert call.status == ToolCallStatus.TOOL_CALL_FAILED
    assert f"MCP server {slug!r}, tool 'slow' failed" in call.result
    assert status.messages[-1].content == "carried on"


GATED = """
replies:
  - tool_calls:
      - {name: mcp_%(server)s_add_note, args: {text: from the model}}
      - {name: mcp_%(server)s_echo, args: {text: hi}}
  - text: done
"""


async def test_an_mcp_rule_gates_only_its_tools_and_an_edit_reaches_the_server(
    activities: RunnerActivities, world: Any, tmp_path: Path
) -> None:
    suffix = secrets.token_hex(3)
    notes = await _create(world, example_stdio_server(f"notes-{suffix}"))
    session = await world.session(
        write_script(tmp_path, "gated", GATED % {"server": notes}),
        mcp_servers=[notes],
        tool_approvals=[ToolApprovalRule(tool="mcp:notes-*/add_*")],
    )
    execution = await world.start(session, "Keep a note.")
    env = ActivityEnvironment()
    thread = await env.run(activities.ensure_thread, session.metadata.id, "")
    first = await env.run(
        activities.execute_graphton,
        TurnRequest(execution_id=execution.metadata.id, thread_id=thread),
    )
    assert first.phase == ExecutionPhase.EXECUTION_AWAITING_APPROVAL
    [pending] = first.approvals
    assert (pending.tool_call_id, pending.tool_name) == ("main-call-0-0", f"mcp_{notes}_add_note")
    stored = await world.get(execution.metadata.id)
    assert stored.status.phase == ExecutionPhase.EXECUTION_AWAITING_APPROVAL
    calls = _calls(stored.status)
    gated = calls[f"/mcp_{notes}_add_note"]
    assert gated.status == ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL
    assert json_format.MessageToDict(gated.approval.args_schema)["required"] == ["text"]
    # The ungated sibling of the same step waits too: nothing of the step runs before.
    assert calls[f"/mcp_{notes}_echo"].status == ToolCallStatus.TOOL_CALL_PENDING
    second = await env.run(
        activities.execute_graphton,
        TurnRequest(
            execution_id=execution.metadata.id,
            thread_id=thread,
            round=2,
            decisions=(
                ApprovalDecision(
                    tool_call_id=pending.tool_call_id,
                    interrupt_id=pending.interrupt_id,
                    position=pending.position,
                    type=ApprovalDecisionType.APPROVAL_DECISION_EDIT,
                    edited_args_json='{"text": "from the person"}',
                ),
            ),
        ),
    )
    assert second.phase == ExecutionPhase.EXECUTION_COMPLETED
    final = (await world.get(execution.metadata.id)).status
    calls = _calls(final)
    assert calls[f"/mcp_{notes}_add_note"].status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert calls[f"/mcp_{notes}_echo"].result == "[stdio] hi"
    written = tmp_path / "sandboxes" / f"local-{session.metadata.id}" / "mcp-notes.txt"
    assert written.read_text() == "from the person\n"
