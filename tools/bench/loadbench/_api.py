"""The server's API as the benchmark uses it: one agent instance, then turns, each in a
session of its own, timed from the client's side."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import grpc
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.command_pb2_grpc import AgentCommandControllerStub
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.command_pb2_grpc import (
    AgentExecutionCommandControllerStub,
)
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionId
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.agentinstance.v1.command_pb2_grpc import AgentInstanceCommandControllerStub
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.environment.v1.command_pb2_grpc import EnvironmentCommandControllerStub
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.session.v1.command_pb2_grpc import SessionCommandControllerStub
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_testing._server import StigmerServer

V1 = "agentic.stigmer.ai/v1"
_RPC_TIMEOUT = 60.0


@dataclass(frozen=True)
class Created:
    """A turn as created: its execution, when the client began (wall clock, comparable
    with the server's timestamps) and how long each create RPC took."""

    execution_id: str
    began: float
    session_seconds: float
    execution_seconds: float


class Api:
    def __init__(self, channel: grpc.aio.Channel, server: StigmerServer) -> None:
        self._metadata = server.metadata
        self._agents = AgentCommandControllerStub(channel)
        self._instances = AgentInstanceCommandControllerStub(channel)
        self._environments = EnvironmentCommandControllerStub(channel)
        self._sessions = SessionCommandControllerStub(channel)
        self._executions = AgentExecutionCommandControllerStub(channel)
        self.queries = AgentExecutionQueryControllerStub(channel)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def _call(self, method: Any, request: Any) -> Any:
        return await method(request, metadata=self._metadata, timeout=_RPC_TIMEOUT)

    async def instance(self, model: str, secret: dict[str, str], plain: dict[str, str]) -> str:
        """An environment holding the provider's key and URL, an agent on `model` without
        sub-agents, and an instance of it; returns the instance id."""
        suffix = secrets.token_hex(3)
        env = Environment(api_version=V1, kind="Environment")
        env.metadata.name = f"bench-env-{suffix}"
        for name, value in plain.items():
            env.spec.data[name].CopyFrom(EnvironmentValue(value=value))
        for name, value in secret.items():
            env.spec.data[name].CopyFrom(EnvironmentValue(value=value, is_secret=True))
        env = await self._call(self._environments.create, env)
        agent = Agent(api_version=V1, kind="Agent")
        agent.metadata.name = f"bench-agent-{suffix}"
        agent.spec.model = model
        agent.spec.instructions = "You are a benchmark agent."
        agent = await self._call(self._agents.create, agent)
        instance = AgentInstance(api_version=V1, kind="AgentInstance")
        instance.metadata.name = f"bench-instance-{suffix}"
        instance.spec.agent_id = agent.metadata.id
        instance.spec.environment_refs.append(
            ApiResourceReference(
                kind=ApiResourceKind.API_RESOURCE_KIND_ENVIRONMENT, slug=env.metadata.slug
            )
        )
        instance = await self._call(self._instances.create, instance)
        return str(instance.metadata.id)

    async def start_turn(self, instance_id: str, message: str) -> Created:
        """A new session, then an execution in it: two create RPCs, each timed."""
        began = time.time()
        started = time.perf_counter()
        session = Session(api_version=V1, kind="Session")
        session.metadata.name = f"bench-session-{secrets.token_hex(4)}"
        session.spec.agent_instance_id = instance_id
        session = await self._call(self._sessions.create, session)
        session_done = time.perf_counter()
        execution = AgentExecution(api_version=V1, kind="AgentExecution")
        execution.spec.session_id = session.metadata.id
        execution.spec.message = message
        created = await self._call(self._executions.create, execution)
        return Created(
            execution_id=str(created.metadata.id),
            began=began,
            session_seconds=session_done - started,
            execution_seconds=time.perf_counter() - session_done,
        )

    async def get(self, execution_id: str) -> AgentExecution:
        found: AgentExecution = await self._call(
            self.queries.get, AgentExecutionId(value=execution_id)
        )
        return found


async def wait_workflow(temporal: Client, execution_id: str, *, within: float) -> None:
    """Until the turn's workflow (its id is the execution's) has ended. A long poll on
    Temporal, so waiting adds no requests to the server under test; the workflow may not
    exist yet just after the create RPC returns."""
    deadline = time.monotonic() + within
    handle = temporal.get_workflow_handle(execution_id)
    while True:
        try:
            await asyncio.wait_for(handle.result(), timeout=deadline - time.monotonic())
            return
        except WorkflowFailureError:
            return  # the phase in the stored status says how it ended
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
