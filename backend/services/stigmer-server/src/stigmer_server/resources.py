"""The seven resource kinds: their message types, id prefixes and reference kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from google.protobuf.message import Message

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind

API_VERSION: Final = "agentic.stigmer.ai/v1"


@dataclass(frozen=True)
class Kind:
    name: str
    message: type[Message]
    id_prefix: str
    reference_kind: ApiResourceKind.ValueType
    # Sessions and executions are created by the system as often as by hand: their slug
    # defaults to the id instead of being required.
    slug_defaults_to_id: bool = False

    def new(self) -> Message:
        return self.message()


AGENT: Final = Kind("Agent", Agent, "agt", ApiResourceKind.API_RESOURCE_KIND_AGENT)
AGENT_INSTANCE: Final = Kind(
    "AgentInstance", AgentInstance, "ain", ApiResourceKind.API_RESOURCE_KIND_AGENT_INSTANCE
)
SESSION: Final = Kind(
    "Session", Session, "ses", ApiResourceKind.API_RESOURCE_KIND_SESSION, slug_defaults_to_id=True
)
AGENT_EXECUTION: Final = Kind(
    "AgentExecution",
    AgentExecution,
    "aex",
    ApiResourceKind.API_RESOURCE_KIND_AGENT_EXECUTION,
    slug_defaults_to_id=True,
)
SKILL: Final = Kind("Skill", Skill, "skl", ApiResourceKind.API_RESOURCE_KIND_SKILL)
ENVIRONMENT: Final = Kind(
    "Environment", Environment, "env", ApiResourceKind.API_RESOURCE_KIND_ENVIRONMENT
)

MCP_SERVER: Final = Kind(
    "McpServer", McpServer, "mcp", ApiResourceKind.API_RESOURCE_KIND_MCP_SERVER
)

ALL_KINDS: Final = (
    AGENT,
    AGENT_INSTANCE,
    SESSION,
    AGENT_EXECUTION,
    SKILL,
    ENVIRONMENT,
    MCP_SERVER,
)
BY_REFERENCE_KIND: Final = {kind.reference_kind: kind for kind in ALL_KINDS}
