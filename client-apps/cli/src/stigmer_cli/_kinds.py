"""The resource kinds the CLI knows: their messages, ids, stubs and the names users type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf.message import Message

from ai.stigmer.agentic.agent.v1 import api_pb2 as agent_api
from ai.stigmer.agentic.agent.v1 import command_pb2_grpc as agent_cmd
from ai.stigmer.agentic.agent.v1 import io_pb2 as agent_io
from ai.stigmer.agentic.agent.v1 import query_pb2_grpc as agent_query
from ai.stigmer.agentic.agentexecution.v1 import api_pb2 as execution_api
from ai.stigmer.agentic.agentexecution.v1 import command_pb2_grpc as execution_cmd
from ai.stigmer.agentic.agentexecution.v1 import io_pb2 as execution_io
from ai.stigmer.agentic.agentexecution.v1 import query_pb2_grpc as execution_query
from ai.stigmer.agentic.agentinstance.v1 import api_pb2 as instance_api
from ai.stigmer.agentic.agentinstance.v1 import command_pb2_grpc as instance_cmd
from ai.stigmer.agentic.agentinstance.v1 import io_pb2 as instance_io
from ai.stigmer.agentic.agentinstance.v1 import query_pb2_grpc as instance_query
from ai.stigmer.agentic.environment.v1 import api_pb2 as environment_api
from ai.stigmer.agentic.environment.v1 import command_pb2_grpc as environment_cmd
from ai.stigmer.agentic.environment.v1 import io_pb2 as environment_io
from ai.stigmer.agentic.environment.v1 import query_pb2_grpc as environment_query
from ai.stigmer.agentic.mcpserver.v1 import api_pb2 as mcp_api
from ai.stigmer.agentic.mcpserver.v1 import command_pb2_grpc as mcp_cmd
from ai.stigmer.agentic.mcpserver.v1 import io_pb2 as mcp_io
from ai.stigmer.agentic.mcpserver.v1 import query_pb2_grpc as mcp_query
from ai.stigmer.agentic.session.v1 import api_pb2 as session_api
from ai.stigmer.agentic.session.v1 import command_pb2_grpc as session_cmd
from ai.stigmer.agentic.session.v1 import io_pb2 as session_io
from ai.stigmer.agentic.session.v1 import query_pb2_grpc as session_query
from ai.stigmer.agentic.skill.v1 import api_pb2 as skill_api
from ai.stigmer.agentic.skill.v1 import command_pb2_grpc as skill_cmd
from ai.stigmer.agentic.skill.v1 import io_pb2 as skill_io
from ai.stigmer.agentic.skill.v1 import query_pb2_grpc as skill_query
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind
from stigmer_cli._errors import CliError

API_VERSION = "agentic.stigmer.ai/v1"

StubFactory = Callable[[grpc.Channel], Any]


@dataclass(frozen=True)
class Kind:
    name: str
    plural: str
    aliases: tuple[str, ...]
    api_kind: ApiResourceKind.ValueType
    message: type[Message]
    id_message: type[Message]
    command_stub: StubFactory
    query_stub: StubFactory
    # Kinds a manifest may declare; sessions and executions are made by `run`.
    in_manifests: bool

    def new(self) -> Message:
        return self.message()

    def id_of(self, value: str) -> Message:
        identifier = self.id_message()
        cast(Any, identifier).value = value
        return identifier


SKILL = Kind(
    "Skill",
    "skills",
    ("skill", "skills"),
    ApiResourceKind.API_RESOURCE_KIND_SKILL,
    skill_api.Skill,
    skill_io.SkillId,
    skill_cmd.SkillCommandControllerStub,
    skill_query.SkillQueryControllerStub,
    in_manifests=True,
)
ENVIRONMENT = Kind(
    "Environment",
    "environments",
    ("environment", "environments", "env", "envs"),
    ApiResourceKind.API_RESOURCE_KIND_ENVIRONMENT,
    environment_api.Environment,
    environment_io.EnvironmentId,
    environment_cmd.EnvironmentCommandControllerStub,
    environment_query.EnvironmentQueryControllerStub,
    in_manifests=True,
)
MCP_SERVER = Kind(
    "McpServer",
    "mcpservers",
    ("mcpserver", "mcpservers", "mcp-server", "mcp-servers", "mcp"),
    ApiResourceKind.API_RESOURCE_KIND_MCP_SERVER,
    mcp_api.McpServer,
    mcp_io.McpServerId,
    mcp_cmd.McpServerCommandControllerStub,
    mcp_query.McpServerQueryControllerStub,
    in_manifests=True,
)
AGENT = Kind(
    "Agent",
    "agents",
    ("agent", "agents"),
    ApiResourceKind.API_RESOURCE_KIND_AGENT,
    agent_api.Agent,
    agent_io.AgentId,
    agent_cmd.AgentCommandControllerStub,
    agent_query.AgentQueryControllerStub,
    in_manifests=True,
)
AGENT_INSTANCE = Kind(
    "AgentInstance",
    "agent-instances",
    (
        "agentinstance",
        "agentinstances",
        "agent-instance",
        "agent-instances",
        "instance",
        "instances",
    ),
    ApiResourceKind.API_RESOURCE_KIND_AGENT_INSTANCE,
    instance_api.AgentInstance,
    instance_io.AgentInstanceId,
    instance_cmd.AgentInstanceCommandControllerStub,
    instance_query.AgentInstanceQueryControllerStub,
    in_manifests=True,
)
SESSION = Kind(
    "Session",
    "sessions",
    ("session", "sessions"),
    ApiResourceKind.API_RESOURCE_KIND_SESSION,
    session_api.Session,
    session_io.SessionId,
    session_cmd.SessionCommandControllerStub,
    session_query.SessionQueryControllerStub,
    in_manifests=False,
)
EXECUTION = Kind(
    "AgentExecution",
    "executions",
    ("agentexecution", "agentexecutions", "execution", "executions", "exec"),
    ApiResourceKind.API_RESOURCE_KIND_AGENT_EXECUTION,
    execution_api.AgentExecution,
    execution_io.AgentExecutionId,
    execution_cmd.AgentExecutionCommandControllerStub,
    execution_query.AgentExecutionQueryControllerStub,
    in_manifests=False,
)

ALL_KINDS = (SKILL, ENVIRONMENT, MCP_SERVER, AGENT, AGENT_INSTANCE, SESSION, EXECUTION)
MANIFEST_KINDS = {kind.name: kind for kind in ALL_KINDS if kind.in_manifests}


def kind_named(word: str) -> Kind:
    """The kind a user typed on the command line (`agents`, `instance`, `AgentInstance`...)."""
    lowered = word.lower()
    for kind in ALL_KINDS:
        if lowered in kind.aliases or lowered == kind.name.lower():
            return kind
    names = ", ".join(kind.plural for kind in ALL_KINDS)
    raise CliError(f"unknown kind {word!r}", fix=f"use one of: {names}")
