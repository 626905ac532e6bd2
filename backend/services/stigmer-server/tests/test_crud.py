"""CRUD of every kind over gRPC against a real server (port 0, real SQLite file)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agent.v1.spec_pb2 import SubAgent
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    ListAgentExecutionsBySessionRequest,
)
from ai.stigmer.agentic.agentinstance.v1.io_pb2 import AgentInstanceId
from ai.stigmer.agentic.environment.v1.io_pb2 import EnvironmentId
from ai.stigmer.agentic.mcpserver.v1.io_pb2 import McpServerId
from ai.stigmer.agentic.session.v1.io_pb2 import SessionId
from ai.stigmer.agentic.skill.v1.io_pb2 import SkillId
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind, ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference

if TYPE_CHECKING:
    from conftest import Api, Builders

pytestmark = pytest.mark.integration
_ID = re.compile(r"^(agt|ain|ses|aex|skl|env|mcp)-[0-9a-z]{26}$")


def _kinds(api: Api, make: Builders) -> list[tuple[str, Any, Any, Any, type[Any]]]:
    """(prefix, command stub, query stub, request factory, id type) for the simple kinds."""
    return [
        ("agt", api.agents, api.agents_q, make.agent, AgentId),
        ("skl", api.skills, api.skills_q, make.skill, SkillId),
        ("env", api.environments, api.environments_q, make.environment, EnvironmentId),
        ("mcp", api.mcp_servers, api.mcp_servers_q, make.mcp_server, McpServerId),
    ]


async def test_create_get_update_delete_of_agents_skills_environments_mcp_servers(
    api: Api, make: Builders
) -> None:
    for prefix, commands, queries, build, id_type in _kinds(api, make):
        request = build()
        created = await api.call(commands.create, request)
        assert _ID.match(created.metadata.id)
        assert created.metadata.id.startswith(prefix + "-")
        assert created.metadata.version == 1
        assert created.metadata.slug == request.metadata.name.lower()
        assert (
            created.metadata.owner_scope == ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_PLATFORM
        )
        assert created.metadata.created_at.seconds > 0
        assert created.spec == request.spec
        got = await api.call(queries.get, id_type(value=created.metadata.id))
        assert got == created
        by_slug = await api.call(
            queries.getByReference, ApiResourceReference(slug=created.metadata.slug)
        )
        assert by_slug == created

        changed = type(created)()
        changed.CopyFrom(created)
        changed.metadata.labels["team"] = "core"
        changed.spec.description = "changed"
        updated = await api.call(commands.update, changed)
        assert updated.metadata.version == 2
        assert updated.metadata.labels["team"] == "core"
        assert updated.metadata.created_at == created.metadata.created_at
        assert (
            await api.call(queries.get, id_type(value=created.metadata.id))
        ).spec.description == "changed"

        deleted = await api.call(commands.delete, id_type(value=created.metadata.id))
        assert deleted.metadata.id == created.metadata.id
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await api.call(queries.get, id_type(value=created.metadata.id))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        assert created.metadata.id in (missing.value.details() or "")


async def test_references_between_kinds(api: Api, make: Builders) -> None:
    skill = await api.call(api.skills.create, make.skill())
    env = await api.call(api.environments.create, make.environment(GREETING="hi"))
    agent = await api.call(
        api.agents.create,
        make.agent(
            skill_refs=[
                ApiResourceReference(
                    kind=ApiResourceKind.API_RESOURCE_KIND_SKILL, slug=skill.metadata.slug
                )
            ]
        ),
    )
    assert agent.spec.skill_refs[0].slug == skill.metadata.slug
    instance = await api.call(
        api.instances.create, make.instance(agent.metadata.id, env.metadata.slug)
    )
    assert instance.metadata.id.startswith("ain-")
    assert (
        await api.call(api.instances_q.get, AgentInstanceId(value=instance.metadata.id))
    ) == instance
    session = await api.call(api.sessions.create, make.session(instance.metadata.id))
    assert session.metadata.slug == session.metadata.id, "a session's slug defaults to its id"
    assert (await api.call(api.sessions_q.get, SessionId(value=session.metadata.id))) == session

    # The runner stores the sandbox and thread it made on the session through `update`.
    session.spec.sandbox_id = "sandbox-1"
    session.spec.thread_id = "thread-1"
    updated = await api.call(api.sessions.update, session)
    assert (updated.spec.sandbox_id, updated.spec.thread_id, updated.metadata.version) == (
        "sandbox-1",
        "thread-1",
        2,
    )


async def test_agents_reference_mcp_servers_that_exist(api: Api, make: Builders) -> None:
    server = await api.call(api.mcp_servers.create, make.mcp_server())
    ref = ApiResourceReference(
        kind=ApiResourceKind.API_RESOURCE_KIND_MCP_SERVER, slug=server.metadata.slug
    )
    agent = await api.call(
        api.agents.create,
        make.agent(
            mcp_server_refs=[ref],
            sub_agents=[SubAgent(name="helper", description="d", mcp_server_refs=[ref])],
        ),
    )
    assert agent.spec.mcp_server_refs[0].slug == server.metadata.slug
    assert agent.spec.sub_agents[0].mcp_server_refs[0].slug == server.metadata.slug

    for spec in (
        {"mcp_server_refs": [ApiResourceReference(slug="no-such-mcp")]},
        {
            "sub_agents": [
                SubAgent(
                    name="helper",
                    description="d",
                    mcp_server_refs=[ApiResourceReference(slug="no-such-mcp")],
                )
            ]
        },
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await api.call(api.agents.create, make.agent(**spec))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        details = missing.value.details() or ""
        assert "McpServer" in details
        assert "no-such-mcp" in details
        assert "mcp_server_refs[0].slug" in details


async def test_list_pages_through_everything_in_id_order(api: Api, make: Builders) -> None:
    org = make.unique("org")
    created = [await api.call(api.skills.create, make.skill(org=org)) for _ in range(5)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await api.call(
            api.skills_q.list, ListRequest(org=org, page_size=2, page_token=token)
        )
        seen.extend(item.metadata.id for item in page.items)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(item.metadata.id for item in created)
    assert pages == 3
    everything = await api.call(api.skills_q.list, ListRequest(org=org))
    assert len(everything.items) == 5
    assert not everything.next_page_token


async def test_same_slug_in_another_org_is_allowed(api: Api, make: Builders) -> None:
    name = make.unique("shared")
    first = await api.call(api.skills.create, make.skill(name=name, org="org-a"))
    second = await api.call(api.skills.create, make.skill(name=name, org="org-b"))
    assert first.metadata.slug == second.metadata.slug
    assert first.metadata.owner_scope == ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION
    found = await api.call(
        api.skills_q.getByReference, ApiResourceReference(org="org-b", slug=name)
    )
    assert found.metadata.id == second.metadata.id


async def test_agent_only_execution_creates_default_instance_once(api: Api, make: Builders) -> None:
    agent = await api.call(api.agents.create, make.agent())
    first = await api.call(
        api.executions.create, make.execution("hello", agent_id=agent.metadata.id)
    )
    second = await api.call(
        api.executions.create, make.execution("again", agent_id=agent.metadata.id)
    )
    assert first.spec.session_id != second.spec.session_id, "each agent-only turn opens a session"
    stored_agent = await api.call(api.agents_q.get, AgentId(value=agent.metadata.id))
    default_id = stored_agent.status.default_instance_id
    assert default_id.startswith("ain-")
    for execution in (first, second):
        session = await api.call(api.sessions_q.get, SessionId(value=execution.spec.session_id))
        assert session.spec.agent_instance_id == default_id
        assert execution.spec.agent_id == agent.metadata.id
        assert execution.status.phase == ExecutionPhase.EXECUTION_PENDING
        assert execution.status.sequence == 1

    # A status sent through `update` is ignored; the stored one stays.
    stored_agent.status.default_instance_id = "ain-smuggled"
    updated = await api.call(api.agents.update, stored_agent)
    assert updated.status.default_instance_id == default_id


async def test_list_by_session_pages(api: Api, make: Builders) -> None:
    _, session_id = await api.new_session(make)
    created = [
        await api.call(api.executions.create, make.execution(f"turn {i}", session_id=session_id))
        for i in range(3)
    ]
    first = await api.call(
        api.executions_q.listBySession,
        ListAgentExecutionsBySessionRequest(session_id=session_id, page_size=2),
    )
    rest = await api.call(
        api.executions_q.listBySession,
        ListAgentExecutionsBySessionRequest(
            session_id=session_id, page_size=2, page_token=first.next_page_token
        ),
    )
    assert [e.metadata.id for e in [*first.items, *rest.items]] == [e.metadata.id for e in created]
    assert not rest.next_page_token
    for execution in created:
        got = await api.call(api.executions_q.get, AgentExecutionId(value=execution.metadata.id))
        assert got.spec.session_id == session_id


async def test_executions_live_in_their_agents_org(api: Api, make: Builders) -> None:
    org = make.unique("team")
    request = make.agent()
    request.metadata.org = org
    agent = await api.call(api.agents.create, request)
    first = await api.call(api.executions.create, make.execution("hi", agent_id=agent.metadata.id))
    second = await api.call(
        api.executions.create, make.execution("more", session_id=first.spec.session_id)
    )
    for execution in (first, second):
        assert execution.metadata.org == org
        assert (
            execution.metadata.owner_scope
            == ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION
        )
    listed = await api.call(api.executions_q.list, ListRequest(org=org))
    assert [e.metadata.id for e in listed.items] == [first.metadata.id, second.metadata.id]
