"""Fixtures of the server's suites: gRPC stubs for a running server, a test-only runner.

The runner double is a real Temporal activity worker registered under the contract's
activity names (EnsureThread, ExecuteGraphton); what a turn does is chosen by the turn's
message, so one worker serves every scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # type: ignore[import-untyped]
    ProtoReflectionDescriptorDatabase,
)
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from ai.stigmer.agentic.agent.v1 import command_pb2_grpc as agent_cmd
from ai.stigmer.agentic.agent.v1 import query_pb2_grpc as agent_query
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.spec_pb2 import AgentSpec, ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1 import command_pb2_grpc as execution_cmd
from ai.stigmer.agentic.agentexecution.v1 import query_pb2_grpc as execution_query
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    ToolCallStatus,
)
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    AgentExecutionStatusUpdate,
)
from ai.stigmer.agentic.agentexecution.v1.spec_pb2 import AgentExecutionSpec
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import (
    AgentExecutionStatus,
    AgentMessage,
    ToolCall,
    ToolCallApproval,
)
from ai.stigmer.agentic.agentinstance.v1 import command_pb2_grpc as instance_cmd
from ai.stigmer.agentic.agentinstance.v1 import query_pb2_grpc as instance_query
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.agentinstance.v1.spec_pb2 import AgentInstanceSpec
from ai.stigmer.agentic.environment.v1 import command_pb2_grpc as environment_cmd
from ai.stigmer.agentic.environment.v1 import query_pb2_grpc as environment_query
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.environment.v1.spec_pb2 import EnvironmentSpec
from ai.stigmer.agentic.mcpserver.v1 import command_pb2_grpc as mcp_cmd
from ai.stigmer.agentic.mcpserver.v1 import query_pb2_grpc as mcp_query
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from ai.stigmer.agentic.mcpserver.v1.spec_pb2 import McpServerSpec, StreamableHttpTransport
from ai.stigmer.agentic.session.v1 import command_pb2_grpc as session_cmd
from ai.stigmer.agentic.session.v1 import query_pb2_grpc as session_query
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.session.v1.spec_pb2 import SessionSpec
from ai.stigmer.agentic.skill.v1 import command_pb2_grpc as skill_cmd
from ai.stigmer.agentic.skill.v1 import query_pb2_grpc as skill_query
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill
from ai.stigmer.agentic.skill.v1.spec_pb2 import SkillSpec
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_contracts import (
    ERROR_INVALID_INPUT,
    ApprovalDecision,
    PendingApproval,
    TurnOutcome,
    TurnRequest,
    attempt_token,
    ensure_thread_defn,
    execute_graphton_defn,
)
from stigmer_testing._server import StigmerServer, start_stigmer_server

V1 = "agentic.stigmer.ai/v1"
APPROVE = ApprovalDecisionType.APPROVAL_DECISION_APPROVE
REJECT = ApprovalDecisionType.APPROVAL_DECISION_REJECT


@dataclass
class Api:
    """Async stubs of every controller on one channel, plus the auth metadata."""

    channel: grpc.aio.Channel
    metadata: tuple[tuple[str, str], ...]
    agents: Any = field(init=False)
    agents_q: Any = field(init=False)
    instances: Any = field(init=False)
    instances_q: Any = field(init=False)
    sessions: Any = field(init=False)
    sessions_q: Any = field(init=False)
    skills: Any = field(init=False)
    skills_q: Any = field(init=False)
    environments: Any = field(init=False)
    environments_q: Any = field(init=False)
    mcp_servers: Any = field(init=False)
    mcp_servers_q: Any = field(init=False)
    executions: Any = field(init=False)
    executions_q: Any = field(init=False)

    def __post_init__(self) -> None:
        c = self.channel
        self.agents = agent_cmd.AgentCommandControllerStub(c)
        self.agents_q = agent_query.AgentQueryControllerStub(c)
        self.instances = instance_cmd.AgentInstanceCommandControllerStub(c)
        self.instances_q = instance_query.AgentInstanceQueryControllerStub(c)
        self.sessions = session_cmd.SessionCommandControllerStub(c)
        self.sessions_q = session_query.SessionQueryControllerStub(c)
        self.skills = skill_cmd.SkillCommandControllerStub(c)
        self.skills_q = skill_query.SkillQueryControllerStub(c)
        self.environments = environment_cmd.EnvironmentCommandControllerStub(c)
        self.environments_q = environment_query.EnvironmentQueryControllerStub(c)
        self.mcp_servers = mcp_cmd.McpServerCommandControllerStub(c)
        self.mcp_servers_q = mcp_query.McpServerQueryControllerStub(c)
        self.executions = execution_cmd.AgentExecutionCommandControllerStub(c)
        self.executions_q = execution_query.AgentExecutionQueryControllerStub(c)

    async def call(self, method: Any, request: Any) -> Any:
        return await method(request, metadata=self.metadata, timeout=30)

    async def new_session(self, make: Builders) -> tuple[str, str]:
        """A fresh agent, instance and session: returns (agent id, session id)."""
        agent = await self.call(self.agents.create, make.agent())
        instance = await self.call(self.instances.create, make.instance(agent.metadata.id))
        session = await self.call(self.sessions.create, make.session(instance.metadata.id))
        return agent.metadata.id, session.metadata.id

    async def wait_phase(
        self, execution_id: str, *phases: ExecutionPhase.ValueType, within: float = 60
    ) -> AgentExecution:
        """Poll `get` until the execution reaches one of `phases`."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            execution: AgentExecution = await self.call(
                self.executions_q.get, AgentExecutionId(value=execution_id)
            )
            if execution.status.phase in phases:
                return execution
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{execution_id} stayed {ExecutionPhase.Name(execution.status.phase)}"
                )
            await asyncio.sleep(0.1)


def db_rows(server: StigmerServer) -> list[tuple[str, bytes]]:
    """Every stored row (id, bytes) of a server's SQLite file, read directly."""
    path = Path(server.db_url.split("///", 1)[1])
    with sqlite3.connect(path) as connection:
        return list(connection.execute("SELECT id, data FROM resources ORDER BY id"))


_OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")


def served_rpcs(address: str) -> list[tuple[str, str]]:
    """(full method path, call kind) of every RPC the server lists."""
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = DescriptorPool(database)
        found = []
        for service_name in database.get_services():
            if service_name in _OPEN_SERVICES:
                continue
            service = pool.FindServiceByName(service_name)
            for method in service.methods:
                kind = (
                    "client_streaming"
                    if method.client_streaming
                    else "server_streaming"
                    if method.server_streaming
                    else "unary"
                )
                found.append((f"/{service.full_name}/{method.name}", kind))
        return found


@pytest.fixture(scope="module")
async def served_methods(server: StigmerServer) -> list[tuple[str, str]]:
    """Every RPC the module's server lists through reflection (health and reflection aside)."""
    return await asyncio.to_thread(served_rpcs, server.address)


@pytest.fixture(scope="module")
async def server(temporal_address: str) -> AsyncIterator[StigmerServer]:
    """A server of this test module's own (fresh SQLite file)."""
    async with start_stigmer_server(temporal_address) as running:
        yield running


@contextlib.asynccontextmanager
async def connect(server: StigmerServer) -> AsyncIterator[Api]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield Api(channel, server.metadata)


@pytest.fixture(scope="session")
def connect_api() -> Callable[[StigmerServer], contextlib.AbstractAsyncContextManager[Api]]:
    """`async with connect_api(server) as api:` for servers a test starts itself."""
    return connect


@pytest.fixture(scope="module")
async def api(server: StigmerServer) -> AsyncIterator[Api]:
    async with connect(server) as connected:
        yield connected


class RunnerDouble:
    """EnsureThread and ExecuteGraphton as a test double of the agent-runner.

    The turn's message (read from the server, as the runner does) picks the behaviour:
    "ok ..." reports progress through updateStatus, then completes; "silent ..." completes
    without any updateStatus; "fail ..." raises a non-retryable error; "block ..."
    heartbeats until cancelled; "gate ..." waits for `release` before completing;
    "approve ..." first stores one tool call awaiting approval, waits for
    `approval_release` and ends AWAITING_APPROVAL, then completes in the next round with
    the decisions it was given kept in `decisions`.
    """

    def __init__(self, api: Api) -> None:
        self.api = api
        self.release = asyncio.Event()
        self.approval_release = asyncio.Event()
        self.decisions: dict[str, tuple[ApprovalDecision, ...]] = {}
        self.timeline: list[tuple[str, str]] = []  # ("start" | "end" | "cancelled", id)

    @ensure_thread_defn
    async def ensure_thread(self, session_id: str, agent_id: str) -> str:
        return f"thread-{session_id}"

    @execute_graphton_defn
    async def execute_graphton(self, request: TurnRequest) -> TurnOutcome:
        execution_id = request.execution_id
        execution = await self.api.call(
            self.api.executions_q.get, AgentExecutionId(value=execution_id)
        )
        word = execution.spec.message.split()[0]
        self.timeline.append(("start", execution_id))
        try:
            if word == "fail":
                raise ApplicationError(
                    "the model rejected the request", type=ERROR_INVALID_INPUT, non_retryable=True
                )
            if word in ("block", "slowstop"):
                try:
                    while True:
                        activity.heartbeat()
                        await asyncio.sleep(0.2)
                except asyncio.CancelledError:
                    if word == "slowstop":  # a turn whose commands take a while to die
                        await asyncio.shield(asyncio.sleep(1.5))
                    raise
            if word == "gate":
                while not self.release.is_set():
                    activity.heartbeat()
                    await asyncio.sleep(0.1)
            if word == "approve" and request.round == 1:
                return await self._stop_for_approval(request)
            if word == "approve":
                self.decisions[execution_id] = request.decisions
            if word == "ok":
                answer = AgentMessage(
                    id=f"{execution_id}-ai", type=MessageType.MESSAGE_AI, content="done"
                )
                await self.api.call(
                    self.api.executions.updateStatus,
                    AgentExecutionStatusUpdate(
                        execution_id=execution_id,
                        attempt=attempt_token(request.round, activity.info().attempt),
                        attempt_sequence=1,
                        status=AgentExecutionStatus(
                            phase=ExecutionPhase.EXECUTION_IN_PROGRESS, messages=[answer]
                        ),
                    ),
                )
            return TurnOutcome(phase=ExecutionPhase.EXECUTION_COMPLETED)
        except asyncio.CancelledError:
            self.timeline.append(("cancelled", execution_id))
            raise
        finally:
            self.timeline.append(("end", execution_id))

    async def _stop_for_approval(self, request: TurnRequest) -> TurnOutcome:
        call = ToolCall(
            id="call-1",
            name="execute",
            status=ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL,
            approval=ToolCallApproval(allowed_decisions=[APPROVE, REJECT]),
        )
        call.args.update({"command": "rm -rf build"})
        await self.api.call(
            self.api.executions.updateStatus,
            AgentExecutionStatusUpdate(
                execution_id=request.execution_id,
                attempt=attempt_token(request.round, activity.info().attempt),
                attempt_sequence=1,
                status=AgentExecutionStatus(
                    phase=ExecutionPhase.EXECUTION_AWAITING_APPROVAL, tool_calls=[call]
                ),
            ),
        )
        # Held open: a decision may reach the workflow before this outcome does.
        while not self.approval_release.is_set():
            activity.heartbeat()
            await asyncio.sleep(0.1)
        return TurnOutcome(
            phase=ExecutionPhase.EXECUTION_AWAITING_APPROVAL,
            approvals=(
                PendingApproval(
                    tool_call_id="call-1",
                    interrupt_id="i" * 32,
                    position=0,
                    tool_name="execute",
                    allowed_decisions=(APPROVE, REJECT),
                ),
            ),
        )

    def saw(self, what: str, execution_id: str) -> bool:
        return (what, execution_id) in self.timeline


@contextlib.asynccontextmanager
async def run_double(
    client: Client, server: StigmerServer, api: Api
) -> AsyncIterator[RunnerDouble]:
    double = RunnerDouble(api)
    worker = Worker(
        client,
        task_queue=server.execution_task_queue,
        activities=[double.ensure_thread, double.execute_graphton],
        # Cancellation reaches an activity with its next heartbeat sent to the server;
        # the SDK otherwise batches heartbeats for up to 80% of the heartbeat timeout.
        max_heartbeat_throttle_interval=timedelta(seconds=0.5),
        default_heartbeat_throttle_interval=timedelta(seconds=0.5),
    )
    async with worker:
        yield double


RunnerFor = Callable[..., contextlib.AbstractAsyncContextManager[RunnerDouble]]


@pytest.fixture(scope="session")
def runner_for(temporal_client: Client) -> RunnerFor:
    """`async with runner_for(server, api[, client]) as double:` a runner double for that
    server, on the session's Temporal unless another client is given."""

    def start(
        server: StigmerServer, api: Api, client: Client | None = None
    ) -> contextlib.AbstractAsyncContextManager[RunnerDouble]:
        return run_double(client or temporal_client, server, api)

    return start


@pytest.fixture(scope="module")
async def runner(
    server: StigmerServer, api: Api, temporal_client: Client
) -> AsyncIterator[RunnerDouble]:
    async with run_double(temporal_client, server, api) as double:
        yield double


class Builders:
    """Valid requests of every kind, with unique names so tests can share a server."""

    def __init__(self) -> None:
        self._count = 0

    def unique(self, stem: str) -> str:
        self._count += 1
        return f"{stem}-{secrets.token_hex(3)}-{self._count}"

    def agent(self, name: str | None = None, **spec: Any) -> Agent:
        return Agent(
            api_version=V1,
            kind="Agent",
            metadata=ApiResourceMetadata(name=name or self.unique("Agent")),
            spec=AgentSpec(model="scripted:demo", instructions="help", **spec),
        )

    def skill(self, name: str | None = None, org: str = "") -> Skill:
        return Skill(
            api_version=V1,
            kind="Skill",
            metadata=ApiResourceMetadata(name=name or self.unique("skill"), org=org),
            spec=SkillSpec(description="d", markdown_content="---\nname: s\n---\nbody"),
        )

    def environment(self, name: str | None = None, **data: str) -> Environment:
        return Environment(
            api_version=V1,
            kind="Environment",
            metadata=ApiResourceMetadata(name=name or self.unique("env")),
            spec=EnvironmentSpec(
                data={key: EnvironmentValue(value=value) for key, value in data.items()}
            ),
        )

    def mcp_server(self, name: str | None = None, **spec: Any) -> McpServer:
        if not spec:
            spec = {
                "streamable_http": StreamableHttpTransport(
                    url="http://127.0.0.1:9/mcp",
                    headers={"Authorization": "Bearer ${TOKEN}"},
                )
            }
        return McpServer(
            api_version=V1,
            kind="McpServer",
            metadata=ApiResourceMetadata(name=name or self.unique("Mcp")),
            spec=McpServerSpec(**spec),
        )

    def instance(self, agent_id: str, *env_slugs: str) -> AgentInstance:
        return AgentInstance(
            api_version=V1,
            kind="AgentInstance",
            metadata=ApiResourceMetadata(name=self.unique("instance")),
            spec=AgentInstanceSpec(
                agent_id=agent_id,
                environment_refs=[ApiResourceReference(slug=slug) for slug in env_slugs],
            ),
        )

    def session(self, instance_id: str) -> Session:
        return Session(
            api_version=V1,
            kind="Session",
            metadata=ApiResourceMetadata(),
            spec=SessionSpec(agent_instance_id=instance_id, subject="s"),
        )

    def execution(
        self, message: str, *, session_id: str = "", agent_id: str = ""
    ) -> AgentExecution:
        return AgentExecution(
            api_version=V1,
            kind="AgentExecution",
            spec=AgentExecutionSpec(session_id=session_id, agent_id=agent_id, message=message),
        )


@pytest.fixture(scope="session")
def make() -> Builders:
    return Builders()


@pytest.fixture(scope="module")
def stored_rows(server: StigmerServer) -> Callable[[], list[tuple[str, bytes]]]:
    """Reads every row of the module server's database (to prove nothing was written)."""
    return lambda: db_rows(server)
