"""Helpers of the runner's integration suites: resources on a real server, turns, watching.

Every suite talks to a real stigmer-server (subprocess, port 0, SQLite file) on the real
Temporal dev server; the end-to-end suites add the real runner worker as a subprocess.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from agent_runner.config import DaytonaSettings
from agent_runner.sandbox.daytona_provider import DaytonaSandboxProvider
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.command_pb2_grpc import AgentCommandControllerStub
from ai.stigmer.agentic.agent.v1.spec_pb2 import ToolApprovalRule
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.command_pb2_grpc import (
    AgentExecutionCommandControllerStub,
)
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionId,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.agentinstance.v1.command_pb2_grpc import AgentInstanceCommandControllerStub
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.environment.v1.command_pb2_grpc import EnvironmentCommandControllerStub
from ai.stigmer.agentic.mcpserver.v1.command_pb2_grpc import McpServerCommandControllerStub
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.session.v1.command_pb2_grpc import SessionCommandControllerStub
from ai.stigmer.agentic.session.v1.io_pb2 import SessionId
from ai.stigmer.agentic.session.v1.query_pb2_grpc import SessionQueryControllerStub
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill
from ai.stigmer.agentic.skill.v1.command_pb2_grpc import SkillCommandControllerStub
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_status import is_final
from stigmer_testing import eventually_async
from stigmer_testing._server import StigmerServer
from stigmer_testing.fakes import FakeDaytona

V1 = "agentic.stigmer.ai/v1"
HELLO_SKILL = "---\nname: hello-world\ndescription: Greets the world.\n---\nSay hello politely.\n"


@dataclass
class World:
    """A server's API as the tests use it: create resources, start turns, watch them."""

    channel: grpc.aio.Channel
    server: StigmerServer

    def __post_init__(self) -> None:
        c = self.channel
        self.agents = AgentCommandControllerStub(c)
        self.instances = AgentInstanceCommandControllerStub(c)
        self.sessions = SessionCommandControllerStub(c)
        self.sessions_q = SessionQueryControllerStub(c)
        self.skills = SkillCommandControllerStub(c)
        self.environments = EnvironmentCommandControllerStub(c)
        self.mcp_servers = McpServerCommandControllerStub(c)
        self.executions = AgentExecutionCommandControllerStub(c)
        self.executions_q = AgentExecutionQueryControllerStub(c)

    async def call(self, method: Any, request: Any) -> Any:
        return await method(request, metadata=self.server.metadata, timeout=30)

    async def session(
        self,
        model: str,
        *,
        secrets_env: Mapping[str, str] | None = None,
        plain_env: Mapping[str, str] | None = None,
        sub_agents: bool = True,
        mcp_servers: Sequence[str] = (),
        researcher_mcp_servers: Sequence[str] = (),
        tool_approvals: Sequence[ToolApprovalRule] = (),
        researcher_tool_approvals: Sequence[ToolApprovalRule] = (),
    ) -> Session:
        """A skill, an environment, an agent using `model`, an instance and a session."""
        suffix = secrets.token_hex(3)
        # The demo script reads /skills/hello-world/SKILL.md: one such skill per server.
        skill = Skill(api_version=V1, kind="Skill")
        skill.metadata.name = "hello-world"
        skill.metadata.slug = "hello-world"
        skill.spec.description = "Greets the world."
        skill.spec.markdown_content = HELLO_SKILL
        try:
            await self.call(self.skills.create, skill)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        env = Environment(api_version=V1, kind="Environment")
        env.metadata.name = f"env-{suffix}"
        env.spec.data["GREETING"].CopyFrom(EnvironmentValue(value="hello"))
        for name, value in (plain_env or {}).items():
            env.spec.data[name].CopyFrom(EnvironmentValue(value=value))
        for name, value in (secrets_env or {}).items():
            env.spec.data[name].CopyFrom(EnvironmentValue(value=value, is_secret=True))
        env = await self.call(self.environments.create, env)
        agent = Agent(api_version=V1, kind="Agent")
        agent.metadata.name = f"agent-{suffix}"
        agent.spec.model = model
        agent.spec.instructions = "You are a test agent."
        agent.spec.skill_refs.append(
            ApiResourceReference(
                kind=ApiResourceKind.API_RESOURCE_KIND_SKILL, slug=skill.metadata.slug
            )
        )
        agent.spec.mcp_server_refs.extend(_mcp_refs(mcp_servers))
        agent.spec.tool_approvals.extend(tool_approvals)
        if sub_agents:
            researcher = agent.spec.sub_agents.add(
                name="researcher", description="Researches the sandbox."
            )
            researcher.mcp_server_refs.extend(_mcp_refs(researcher_mcp_servers))
            researcher.tool_approvals.extend(researcher_tool_approvals)
        agent = await self.call(self.agents.create, agent)
        instance = AgentInstance(api_version=V1, kind="AgentInstance")
        instance.metadata.name = f"instance-{suffix}"
        instance.spec.agent_id = agent.metadata.id
        instance.spec.environment_refs.append(
            ApiResourceReference(
                kind=ApiResourceKind.API_RESOURCE_KIND_ENVIRONMENT, slug=env.metadata.slug
            )
        )
        instance = await self.call(self.instances.create, instance)
        session = Session(api_version=V1, kind="Session")
        session.metadata.name = f"session-{suffix}"
        session.spec.agent_instance_id = instance.metadata.id
        created: Session = await self.call(self.sessions.create, session)
        return created

    async def get_session(self, session_id: str) -> Session:
        session: Session = await self.call(self.sessions_q.get, SessionId(value=session_id))
        return session

    async def start(self, session: Session, message: str) -> AgentExecution:
        execution = AgentExecution(api_version=V1, kind="AgentExecution")
        execution.spec.session_id = session.metadata.id
        execution.spec.message = message
        created: AgentExecution = await self.call(self.executions.create, execution)
        return created

    async def get(self, execution_id: str) -> AgentExecution:
        result: AgentExecution = await self.call(
            self.executions_q.get, AgentExecutionId(value=execution_id)
        )
        return result

    async def wait_phase(
        self, execution_id: str, phase: int, within: float = 120
    ) -> AgentExecution:
        """The execution once its phase is `phase` (failing early if it ends otherwise)."""
        last = AgentExecution()

        async def reached() -> AgentExecution | None:
            nonlocal last
            last = await self.get(execution_id)
            if last.status.phase != phase and is_final(last.status.phase):
                raise AssertionError(f"{execution_id} ended instead: {last.status}")
            return last if last.status.phase == phase else None

        found: AgentExecution = await eventually_async(
            reached,
            timeout=within,
            interval=0.2,
            message=lambda: f"{execution_id} to reach phase {phase}; last status: {last.status}",
        )
        return found

    async def watch(self, execution_id: str) -> list[AgentExecutionEvent]:
        """Every `subscribe` event until the stream ends at a final phase."""
        stream = self.executions_q.subscribe(
            SubscribeAgentExecutionRequest(execution_id=execution_id),
            metadata=self.server.metadata,
        )
        return [event async for event in stream]

    async def wait_final(self, execution_id: str, within: float = 90) -> AgentExecution:
        last = AgentExecution()

        async def final() -> AgentExecution | None:
            nonlocal last
            last = await self.get(execution_id)
            return last if is_final(last.status.phase) else None

        found: AgentExecution = await eventually_async(
            final,
            timeout=within,
            interval=0.2,
            message=lambda: f"{execution_id} to reach a final phase; last status: {last.status}",
        )
        return found


def _mcp_refs(slugs: Sequence[str]) -> list[ApiResourceReference]:
    return [
        ApiResourceReference(kind=ApiResourceKind.API_RESOURCE_KIND_MCP_SERVER, slug=slug)
        for slug in slugs
    ]


def write_script(directory: Path, name: str, text: str) -> str:
    """A script file for `scripted:<path>`; returns the model string."""
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return f"scripted:{path}"


def running_commands(marker: str, *, exact: bool = False) -> list[int]:
    """Host pids of live (non-zombie) processes whose command line contains `marker` (is it,
    with `exact`: the command itself rather than the shell or bwrap that started it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        found_it = cmdline.strip() == marker if exact else marker in cmdline
        if found_it and state != "Z":
            found.append(int(entry.name))
    return found


def daytona_provider(
    fake: FakeDaytona,
    owner: str,
    *,
    command_timeout: int = 30,
    max_command_timeout: int | None = None,
) -> DaytonaSandboxProvider:
    """An in-process Daytona provider on the fake, for tests that need no runner process."""
    settings = DaytonaSettings(
        api_key=fake.api_key or "",
        api_url=fake.api_url,
        target="us",
        snapshot="",
        auto_stop_minutes=15,
        auto_delete_minutes=60,
        start_timeout=30,
        command_timeout=command_timeout,
        max_output_bytes=10_000,
        max_command_timeout=max_command_timeout,
    )
    return DaytonaSandboxProvider(settings, owner=owner)
