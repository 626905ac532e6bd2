"""The gRPC servicers: thin adapters from the generated controllers to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import grpc
from google.protobuf.message import Message

from ai.stigmer.agentic.agent.v1 import command_pb2 as agent_cmd
from ai.stigmer.agentic.agent.v1 import command_pb2_grpc as agent_cmd_grpc
from ai.stigmer.agentic.agent.v1 import io_pb2 as agent_io
from ai.stigmer.agentic.agent.v1 import query_pb2 as agent_query
from ai.stigmer.agentic.agent.v1 import query_pb2_grpc as agent_query_grpc
from ai.stigmer.agentic.agentexecution.v1 import command_pb2 as execution_cmd
from ai.stigmer.agentic.agentexecution.v1 import command_pb2_grpc as execution_cmd_grpc
from ai.stigmer.agentic.agentexecution.v1 import io_pb2 as execution_io
from ai.stigmer.agentic.agentexecution.v1 import query_pb2 as execution_query
from ai.stigmer.agentic.agentexecution.v1 import query_pb2_grpc as execution_query_grpc
from ai.stigmer.agentic.agentinstance.v1 import command_pb2 as instance_cmd
from ai.stigmer.agentic.agentinstance.v1 import command_pb2_grpc as instance_cmd_grpc
from ai.stigmer.agentic.agentinstance.v1 import io_pb2 as instance_io
from ai.stigmer.agentic.agentinstance.v1 import query_pb2 as instance_query
from ai.stigmer.agentic.agentinstance.v1 import query_pb2_grpc as instance_query_grpc
from ai.stigmer.agentic.environment.v1 import command_pb2 as environment_cmd
from ai.stigmer.agentic.environment.v1 import command_pb2_grpc as environment_cmd_grpc
from ai.stigmer.agentic.environment.v1 import io_pb2 as environment_io
from ai.stigmer.agentic.environment.v1 import query_pb2 as environment_query
from ai.stigmer.agentic.environment.v1 import query_pb2_grpc as environment_query_grpc
from ai.stigmer.agentic.mcpserver.v1 import command_pb2 as mcp_cmd
from ai.stigmer.agentic.mcpserver.v1 import command_pb2_grpc as mcp_cmd_grpc
from ai.stigmer.agentic.mcpserver.v1 import io_pb2 as mcp_io
from ai.stigmer.agentic.mcpserver.v1 import query_pb2 as mcp_query
from ai.stigmer.agentic.mcpserver.v1 import query_pb2_grpc as mcp_query_grpc
from ai.stigmer.agentic.session.v1 import command_pb2 as session_cmd
from ai.stigmer.agentic.session.v1 import command_pb2_grpc as session_cmd_grpc
from ai.stigmer.agentic.session.v1 import io_pb2 as session_io
from ai.stigmer.agentic.session.v1 import query_pb2 as session_query
from ai.stigmer.agentic.session.v1 import query_pb2_grpc as session_query_grpc
from ai.stigmer.agentic.skill.v1 import command_pb2 as skill_cmd
from ai.stigmer.agentic.skill.v1 import command_pb2_grpc as skill_cmd_grpc
from ai.stigmer.agentic.skill.v1 import io_pb2 as skill_io
from ai.stigmer.agentic.skill.v1 import query_pb2 as skill_query
from ai.stigmer.agentic.skill.v1 import query_pb2_grpc as skill_query_grpc
from stigmer_server.api._crud import ResourceService
from stigmer_server.execution import ExecutionService

Context = grpc.aio.ServicerContext[Any, Any]


class _Commands:
    def __init__(self, service: ResourceService) -> None:
        self._service = service

    async def create(self, request: Any, context: Context) -> Any:
        return await self._service.create(request)

    async def update(self, request: Any, context: Context) -> Any:
        return await self._service.update(request)

    async def delete(self, request: Any, context: Context) -> Any:
        return await self._service.delete(request.value)


class _Queries:
    list_type: type[Message]

    def __init__(self, service: ResourceService) -> None:
        self._service = service

    async def get(self, request: Any, context: Context) -> Any:
        return await self._service.get(request.value)

    async def getByReference(self, request: Any, context: Context) -> Any:
        return await self._service.get_by_reference(request)

    async def list(self, request: Any, context: Context) -> Any:
        page = await self._service.list(request)
        return self.list_type(items=page.items, next_page_token=page.next_page_token)


class AgentCommands(_Commands, agent_cmd_grpc.AgentCommandControllerServicer):
    """create, update and delete: all of it in `_Commands`, bound to this kind's servicer."""


class AgentQueries(_Queries, agent_query_grpc.AgentQueryControllerServicer):
    list_type = agent_io.AgentList


class AgentInstanceCommands(_Commands, instance_cmd_grpc.AgentInstanceCommandControllerServicer):
    """create, update and delete: all of it in `_Commands`, bound to this kind's servicer."""


class AgentInstanceQueries(_Queries, instance_query_grpc.AgentInstanceQueryControllerServicer):
    list_type = instance_io.AgentInstanceList


class SessionCommands(_Commands, session_cmd_grpc.SessionCommandControllerServicer):
    """create, update and delete: all of it in `_Commands`, bound to this kind's servicer."""


class SessionQueries(_Queries, session_query_grpc.SessionQueryControllerServicer):
    list_type = session_io.SessionList


class SkillCommands(_Commands, skill_cmd_grpc.SkillCommandControllerServicer):
    """create, update and delete: all of it in `_Commands`, bound to this kind's servicer."""


class SkillQueries(_Queries, skill_query_grpc.SkillQueryControllerServicer):
    list_type = skill_io.SkillList


class EnvironmentCommands(_Commands, environment_cmd_grpc.EnvironmentCommandControllerServicer):
    """create, update and delete: all of it in `_Commands`, bound to this kind's servicer."""


class EnvironmentQueries(_Queries, environment_query_grpc.EnvironmentQueryControllerServicer):
    list_type = environment_io.EnvironmentList


class McpServerCommands(_Commands, mcp_cmd_grpc.McpServerCommandControllerServicer):
    """create, update and delete: all of it in `_Commands`, bound to this kind's servicer."""


class McpServerQueries(_Queries, mcp_query_grpc.McpServerQueryControllerServicer):
    list_type = mcp_io.McpServerList


class AgentExecutionCommands(_Commands, execution_cmd_grpc.AgentExecutionCommandControllerServicer):
    def __init__(self, service: ResourceService, executions: ExecutionService) -> None:
        super().__init__(service)
        self._executions = executions

    async def create(self, request: Any, context: Context) -> Any:
        return await self._executions.create(request)

    async def updateStatus(self, request: Any, context: Context) -> Any:
        return await self._executions.update_status(request)

    async def streamPreviews(self, request_iterator: Any, context: Context) -> Any:
        return await self._executions.stream_previews(request_iterator)

    async def cancel(self, request: Any, context: Context) -> Any:
        return await self._executions.cancel(request.value)

    async def decide(self, request: Any, context: Context) -> Any:
        return await self._executions.decide(request)


class AgentExecutionQueries(_Queries, execution_query_grpc.AgentExecutionQueryControllerServicer):
    list_type = execution_io.AgentExecutionList

    def __init__(self, service: ResourceService, executions: ExecutionService) -> None:
        super().__init__(service)
        self._executions = executions

    async def listBySession(self, request: Any, context: Context) -> Any:
        page = await self._executions.list_by_session(request)
        return execution_io.AgentExecutionList(
            items=page.items,  # type: ignore[arg-type]
            next_page_token=page.next_page_token,
        )

    async def subscribe(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for event in self._executions.subscribe(request):
            yield event


@dataclass(frozen=True)
class Registration:
    servicer: Any
    add: Callable[[Any, grpc.aio.Server], None]
    service_name: str


def _register(servicer: Any, messages: ModuleType, stubs: ModuleType, service: str) -> Registration:
    add = getattr(stubs, f"add_{service}Servicer_to_server")
    name = messages.DESCRIPTOR.services_by_name[service].full_name
    return Registration(servicer, add, name)


def registrations(
    services: dict[str, ResourceService], executions: ExecutionService
) -> list[Registration]:
    """Every servicer with its add-function and full service name (for health, reflection)."""
    agent, instance = services["Agent"], services["AgentInstance"]
    session, skill = services["Session"], services["Skill"]
    environment, execution = services["Environment"], services["AgentExecution"]
    mcp_server = services["McpServer"]
    return [
        _register(AgentCommands(agent), agent_cmd, agent_cmd_grpc, "AgentCommandController"),
        _register(AgentQueries(agent), agent_query, agent_query_grpc, "AgentQueryController"),
        _register(
            AgentInstanceCommands(instance),
            instance_cmd,
            instance_cmd_grpc,
            "AgentInstanceCommandController",
        ),
        _register(
            AgentInstanceQueries(instance),
            instance_query,
            instance_query_grpc,
            "AgentInstanceQueryController",
        ),
        _register(
            SessionCommands(session), session_cmd, session_cmd_grpc, "SessionCommandController"
        ),
        _register(
            SessionQueries(session), session_query, session_query_grpc, "SessionQueryController"
        ),
        _register(SkillCommands(skill), skill_cmd, skill_cmd_grpc, "SkillCommandController"),
        _register(SkillQueries(skill), skill_query, skill_query_grpc, "SkillQueryController"),
        _register(
            EnvironmentCommands(environment),
            environment_cmd,
            environment_cmd_grpc,
            "EnvironmentCommandController",
        ),
        _register(
            EnvironmentQueries(environment),
            environment_query,
            environment_query_grpc,
            "EnvironmentQueryController",
        ),
        _register(
            McpServerCommands(mcp_server), mcp_cmd, mcp_cmd_grpc, "McpServerCommandController"
        ),
        _register(
            McpServerQueries(mcp_server), mcp_query, mcp_query_grpc, "McpServerQueryController"
        ),
        _register(
            AgentExecutionCommands(execution, executions),
            execution_cmd,
            execution_cmd_grpc,
            "AgentExecutionCommandController",
        ),
        _register(
            AgentExecutionQueries(execution, executions),
            execution_query,
            execution_query_grpc,
            "AgentExecutionQueryController",
        ),
    ]
