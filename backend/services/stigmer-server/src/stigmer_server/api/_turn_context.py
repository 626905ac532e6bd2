"""The runner's one read of a turn: the execution and everything it runs with, in clear.

Resolved in one transaction, in the session's org: session -> agent instance -> agent ->
skills, environments and MCP servers (each reference once, in reference order, the way the
runner merges them). This is the only response whose secret values the gate leaves in
clear (`iam._gate`), and the table lets only the runner call it, so secrets reach the runner
through this call alone and Temporal carries nothing but the turn's ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.runner.v1 import query_pb2, query_pb2_grpc
from ai.stigmer.agentic.runner.v1.io_pb2 import TurnContext, TurnContextRequest
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_server import resources as kinds
from stigmer_server.api._rules import require
from stigmer_server.errors import NotFound, PermissionDenied
from stigmer_server.principal import current_principal
from stigmer_server.resources import Kind
from stigmer_server.storage import Store, Transaction
from stigmer_server.validation import check_id, default_scope

SERVICE = "RunnerQueryController"
_ORGANIZATION = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION
_PLATFORM = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_PLATFORM

Context = grpc.aio.ServicerContext[Any, Any]


class RunnerQueries(query_pb2_grpc.RunnerQueryControllerServicer):
    def __init__(self, store: Store) -> None:
        self._store = store

    async def getTurnContext(self, request: TurnContextRequest, context: Context) -> TurnContext:
        return await read_turn_context(self._store, request.execution_id)


def register(store: Store, server: grpc.aio.Server) -> list[str]:
    query_pb2_grpc.add_RunnerQueryControllerServicer_to_server(RunnerQueries(store), server)
    return [query_pb2.DESCRIPTOR.services_by_name[SERVICE].full_name]


async def read_turn_context(store: Store, execution_id: str) -> TurnContext:
    check_id(execution_id, "execution_id", kinds.AGENT_EXECUTION)
    async with store.transaction() as tx:
        execution: Any = await tx.get(kinds.AGENT_EXECUTION, execution_id)
        if execution is None:
            raise NotFound("AgentExecution", execution_id, field="execution_id")
        principal = current_principal()
        if not execution.metadata.org and not principal.platform:
            # Another org's turn is NOT_FOUND already (storage); a platform turn is run by
            # the platform's runners, not by one of an org.
            raise PermissionDenied(
                f"AgentExecution {execution_id!r} is platform-scope: only a platform runner "
                f"key reads its context, not key {principal.key_id!r} of org {principal.org!r}"
            )
        session = await require(
            tx, kinds.SESSION, execution.spec.session_id, "execution.spec.session_id"
        )
        instance = await require(
            tx,
            kinds.AGENT_INSTANCE,
            session.spec.agent_instance_id,
            "session.spec.agent_instance_id",
        )
        agent: Agent = await require(
            tx, kinds.AGENT, instance.spec.agent_id, "agent_instance.spec.agent_id"
        )
        org = session.metadata.org
        skills = await _all(tx, kinds.SKILL, org, _skill_refs(agent))
        environments = await _all(
            tx, kinds.ENVIRONMENT, org, _numbered(instance.spec.environment_refs, "environment")
        )
        servers = await _all(tx, kinds.MCP_SERVER, org, _mcp_server_refs(agent))
    return TurnContext(
        execution=execution,
        session=session,
        agent_instance=instance,
        agent=agent,
        skills=skills,
        environments=environments,
        mcp_servers=servers,
    )


def _numbered(
    refs: Iterable[ApiResourceReference], field: str
) -> list[tuple[str, ApiResourceReference]]:
    return [(f"{field}_refs[{index}]", ref) for index, ref in enumerate(refs)]


def _unique(refs: list[tuple[str, ApiResourceReference]]) -> list[tuple[str, ApiResourceReference]]:
    unique: dict[tuple[int, str, str], tuple[str, ApiResourceReference]] = {}
    for where, ref in refs:
        unique.setdefault((ref.scope, ref.org, ref.slug), (where, ref))
    return list(unique.values())


def _skill_refs(agent: Agent) -> list[tuple[str, ApiResourceReference]]:
    refs = _numbered(agent.spec.skill_refs, "agent.spec.skill")
    for sub in agent.spec.sub_agents:
        refs += _numbered(sub.skill_refs, f"agent.spec.sub_agents[{sub.name!r}].skill")
    return _unique(refs)


def _mcp_server_refs(agent: Agent) -> list[tuple[str, ApiResourceReference]]:
    refs = _numbered(agent.spec.mcp_server_refs, "agent.spec.mcp_server")
    for sub in agent.spec.sub_agents:
        refs += _numbered(sub.mcp_server_refs, f"agent.spec.sub_agents[{sub.name!r}].mcp_server")
    return _unique(refs)


async def _all(
    tx: Transaction, kind: Kind, org: str, refs: list[tuple[str, ApiResourceReference]]
) -> list[Any]:
    found = []
    for where, ref in refs:
        resource = await _find(tx, kind, org, ref)
        if resource is None:
            raise NotFound(kind.name, ref.slug, field=f"{where}.slug")
        found.append(resource)
    return found


async def _find(tx: Transaction, kind: Kind, org: str, ref: ApiResourceReference) -> Any:
    """A reference as the session's org sees it: stored references name their org; one
    that does not resolves in the session's org, then the platform's."""
    if ref.org or ref.scope:
        return await tx.get_by_slug(kind, default_scope(ref.scope, ref.org), ref.org, ref.slug)
    found = await tx.get_by_slug(kind, _ORGANIZATION, org, ref.slug) if org else None
    return found or await tx.get_by_slug(kind, _PLATFORM, "", ref.slug)
