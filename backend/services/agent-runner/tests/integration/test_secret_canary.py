"""The canary: two secret values (an environment's and a turn's runtime env) go through a
whole system, the real server and the real runner with tracing on, in a turn that uses
them in its sandbox and a turn that fails with them in its MCP server's header. Neither value
is then in the turns' Temporal histories (every event's bytes, payloads included), the
server's or the runner's log, the turns' statuses and errors, the exported traces, the
server's database files (where they are sealed) or the runner's checkpoints. The operator's
provider key, in the runner's environment, is in none of them either, nor in the sandbox
of an agent whose environment does not name it.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

import grpc
import pytest
from mcp_world import http_server, serving
from runner_world import World, write_script
from temporalio.client import Client

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from stigmer_testing import eventually
from stigmer_testing._runner import start_agent_runner
from stigmer_testing._server import start_stigmer_server
from stigmer_testing.otlp import OtlpReceiver

pytestmark = pytest.mark.integration

ENV_CANARY = f"env-canary-{secrets.token_hex(8)}"
TURN_CANARY = f"turn-canary-{secrets.token_hex(8)}"
# The operator's provider key, in the runner's own environment: never in a sandbox whose
# agent's environment does not name it.
OPERATOR_CANARY = f"sk-operator-canary-{secrets.token_hex(8)}"
CANARIES = (ENV_CANARY, TURN_CANARY, OPERATOR_CANARY)

# The sandbox prints both values (to stdout and stderr); the runner redacts them.
USES_THEM = """
replies:
  - text: Looking at the tokens.
    tool_calls:
      - name: execute
        args:
          command: >-
            echo "env=$TOKEN turn=$TURN_TOKEN"; echo "$TURN_TOKEN" >&2;
            echo "operator-key=${OPENAI_API_KEY:-absent}"; env
  - text: Done.
"""


def _turn(session_id: str, message: str) -> AgentExecution:
    turn = AgentExecution(api_version="agentic.stigmer.ai/v1", kind="AgentExecution")
    turn.spec.session_id = session_id
    turn.spec.message = message
    turn.spec.runtime_env["TURN_TOKEN"].CopyFrom(
        EnvironmentValue(value=TURN_CANARY, is_secret=True)
    )
    return turn


def _locked_mcp_server(slug: str, url: str) -> McpServer:
    server = McpServer(api_version="agentic.stigmer.ai/v1", kind="McpServer")
    server.metadata.name = slug
    server.metadata.slug = slug
    server.spec.streamable_http.url = url
    # Both secrets travel in the header the MCP server refuses.
    server.spec.streamable_http.headers["Authorization"] = "Bearer ${TURN_TOKEN}.${TOKEN}"
    return server


async def test_no_secret_reaches_history_logs_status_errors_traces_or_the_database(
    temporal_address: str, temporal_client: Client, tmp_path: Path
) -> None:
    key_file = tmp_path / "secrets.keys"
    # The server's key file format: `<key id> <base64 of 32 random bytes>`.
    key_file.write_text(f"k1 {base64.b64encode(os.urandom(32)).decode()}\n")
    server_dir, runner_dir = tmp_path / "server", tmp_path / "runner"
    with OtlpReceiver() as receiver:
        server_env = {**receiver.env(), "STIGMER_SECRETS_KEY_FILE": str(key_file)}
        async with (
            start_stigmer_server(temporal_address, env=server_env, data_dir=server_dir) as server,
            start_agent_runner(
                server,
                temporal_address,
                env={**receiver.env(), "OPENAI_API_KEY": OPERATOR_CANARY},
                data_dir=runner_dir,
            ) as runner,
            grpc.aio.insecure_channel(server.address) as channel,
            serving(http_server("the-right-token")) as mcp_url,
        ):
            world = World(channel, server)
            slug = f"locked-{secrets.token_hex(3)}"
            await world.call(world.mcp_servers.create, _locked_mcp_server(slug, mcp_url))
            uses = await world.session(
                write_script(tmp_path, "uses-them", USES_THEM),
                secrets_env={"TOKEN": ENV_CANARY},
                sub_agents=False,
            )
            fails = await world.session(
                "scripted:demo",
                secrets_env={"TOKEN": ENV_CANARY},
                sub_agents=False,
                mcp_servers=[slug],
            )
            finished = []
            for session, phase in (
                (uses, ExecutionPhase.EXECUTION_COMPLETED),
                (fails, ExecutionPhase.EXECUTION_FAILED),
            ):
                turn = await world.call(
                    world.executions.create, _turn(session.metadata.id, "Use the tokens.")
                )
                done = await world.wait_final(turn.metadata.id)
                assert done.status.phase == phase, done.status
                finished.append(done)
            histories = [
                await temporal_client.get_workflow_handle(turn.metadata.id).fetch_history()
                for turn in finished
            ]
            # The spans of both services are exported once their batches are flushed.
            eventually(
                lambda: (
                    {"stigmer-server", "agent-runner"}
                    <= {span.service for span in receiver.spans()}
                    or None
                ),
                timeout=30,
                message=lambda: f"spans of both services; got {_services(receiver)}",
            )
        server_log, runner_log = server.log(), runner.log()
        traces = receiver.raw()

    # Each place searched is the real thing: it holds what the turns did.
    completed, failed = finished
    printed = str(completed.status.messages)
    assert "env=*** turn=***" in printed, "the sandbox printed the values, redacted"
    assert "operator-key=absent" in printed
    assert "TOKEN=***" in printed, "`env` listed the sandbox's environment"
    assert f"McpServer {slug!r}" in failed.status.error
    for turn, history in zip(finished, histories, strict=True):
        raw = b"".join(event.SerializeToString() for event in history.events)
        assert turn.metadata.id.encode() in raw
        for canary in CANARIES:
            assert canary.encode() not in raw, f"{canary} in the history of {turn.metadata.id}"
            assert canary not in str(turn.status)
    assert completed.metadata.id in server_log
    assert completed.metadata.id in runner_log
    assert traces
    stored = b"".join(path.read_bytes() for path in server_dir.glob("stigmer.db*"))
    assert stored
    checkpoints = b"".join(path.read_bytes() for path in runner_dir.glob("checkpoints.sqlite*"))
    assert checkpoints
    for canary in CANARIES:
        assert canary not in server_log, "server log"
        assert canary not in runner_log, "runner log"
        assert canary.encode() not in traces, "exported traces"
        assert canary.encode() not in stored, "the server's database"
        assert canary.encode() not in checkpoints, "the runner's checkpoints"


def _services(receiver: OtlpReceiver) -> list[Any]:
    return sorted({span.service for span in receiver.spans()})
