"""The server's API as the scenarios use it: a session for a scripted turn, turns, watching.

The same calls a client makes (runner_world.World in the runner's suites), on one channel
that outlives server restarts: gRPC reconnects to the same address by itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.command_pb2_grpc import AgentCommandControllerStub
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.command_pb2_grpc import (
    AgentExecutionCommandControllerStub,
)
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    AgentExecutionStatusUpdate,
    AgentExecutionStatusUpdateResult,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.agentinstance.v1.command_pb2_grpc import AgentInstanceCommandControllerStub
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.session.v1.command_pb2_grpc import SessionCommandControllerStub
from stigmer_status import is_final
from stigmer_testing import eventually_async

V1 = "agentic.stigmer.ai/v1"
SUB_AGENT = "researcher"


@dataclass
class ChaosApi:
    channel: grpc.aio.Channel
    api_key: str

    def __post_init__(self) -> None:
        c = self.channel
        self.metadata = (("authorization", f"Bearer {self.api_key}"),)
        self.agents = AgentCommandControllerStub(c)
        self.instances = AgentInstanceCommandControllerStub(c)
        self.sessions = SessionCommandControllerStub(c)
        self.executions = AgentExecutionCommandControllerStub(c)
        self.executions_q = AgentExecutionQueryControllerStub(c)

    async def call(self, method: Any, request: Any, timeout: float = 30) -> Any:  # noqa: ASYNC109 - a gRPC deadline
        return await method(request, metadata=self.metadata, timeout=timeout)

    async def session(self, model: str) -> Session:
        """An agent on `model` with the sub-agent scripts may call, an instance, a session."""
        suffix = secrets.token_hex(3)
        agent = Agent(api_version=V1, kind="Agent")
        agent.metadata.name = f"chaos-{suffix}"
        agent.spec.model = model
        agent.spec.instructions = "You are a chaos test agent."
        agent.spec.sub_agents.add(name=SUB_AGENT, description="Looks around the sandbox.")
        agent = await self.call(self.agents.create, agent)
        instance = AgentInstance(api_version=V1, kind="AgentInstance")
        instance.metadata.name = f"chaos-{suffix}"
        instance.spec.agent_id = agent.metadata.id
        instance = await self.call(self.instances.create, instance)
        session = Session(api_version=V1, kind="Session")
        session.metadata.name = f"chaos-{suffix}"
        session.spec.agent_instance_id = instance.metadata.id
        created: Session = await self.call(self.sessions.create, session)
        return created

    async def start(self, session: Session, message: str = "Go.") -> str:
        execution = AgentExecution(api_version=V1, kind="AgentExecution")
        execution.spec.session_id = session.metadata.id
        execution.spec.message = message
        created: AgentExecution = await self.call(self.executions.create, execution)
        return str(created.metadata.id)

    async def get(self, execution_id: str) -> AgentExecution:
        found: AgentExecution = await self.call(
            self.executions_q.get, AgentExecutionId(value=execution_id)
        )
        return found

    async def cancel(self, execution_id: str) -> AgentExecution:
        found: AgentExecution = await self.call(
            self.executions.cancel, AgentExecutionId(value=execution_id)
        )
        return found

    async def update_status(
        self, execution_id: str, delta: AgentExecutionStatus, *, attempt: int, number: int
    ) -> AgentExecutionStatusUpdateResult:
        update = AgentExecutionStatusUpdate(
            execution_id=execution_id, status=delta, attempt=attempt, attempt_sequence=number
        )
        result: AgentExecutionStatusUpdateResult = await self.call(
            self.executions.updateStatus, update
        )
        return result

    async def wait_final(
        self,
        execution_id: str,
        within: float,
        context: Any = None,
    ) -> AgentExecution:
        """The execution once final; `context()` adds (say) runner logs to a timeout failure."""
        last = AgentExecution()

        async def final() -> AgentExecution | None:
            nonlocal last
            last = await self.get(execution_id)
            return last if is_final(last.status.phase) else None

        found: AgentExecution = await eventually_async(
            final,
            timeout=within,
            interval=0.2,
            message=lambda: (
                f"{execution_id} to reach a final phase; last status: {last.status}"
                + (f"\n{context()}" if context else "")
            ),
        )
        return found


def write_script(
    directory: Path,
    name: str,
    replies: Sequence[Mapping[str, Any]],
    sub_agent: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A `scripted:<path>` model playing `replies` (and `sub_agent` for the researcher)."""
    script: dict[str, Any] = {"replies": [dict(r) for r in replies]}
    if sub_agent:
        script["subagents"] = {SUB_AGENT: {"replies": [dict(r) for r in sub_agent]}}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(script, sort_keys=False))
    return f"scripted:{path}"


def execute(command: str) -> dict[str, Any]:
    """A reply making one `execute` call."""
    return {"tool_calls": [{"name": "execute", "args": {"command": command}}]}


def text(content: str) -> dict[str, Any]:
    return {"text": content}
