"""Orgs: a resource belongs to its creator's org; another org's resource is NOT_FOUND by id,
by reference and absent from lists; platform-scope resources are read by all and written by
platform principals only. Real keys of two orgs against a real server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    ListAgentExecutionsBySessionRequest,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.session.v1.io_pb2 import SessionId
from ai.stigmer.agentic.skill.v1.io_pb2 import SkillId
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from ai.stigmer.iam.apikey.v1 import command_pb2_grpc as key_cmd
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from stigmer_server.iam import Role
from stigmer_testing._server import StigmerServer

if TYPE_CHECKING:
    from conftest import Api, Builders

pytestmark = pytest.mark.integration

SKILL = ApiResourceKind.API_RESOURCE_KIND_SKILL


async def _key(api: Api, role: Role, org: str) -> Api:
    request = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
    request.metadata.name = f"{org}-{role.value}"
    request.metadata.org = org
    request.spec.role = role.proto
    created = await api.call(key_cmd.ApiKeyCommandControllerStub(api.channel).create, request)
    # The same stubs and channel as the module's bootstrap client, with this key instead.
    return type(api)(api.channel, (("authorization", f"Bearer {created.key}"),))


async def _code(call: Callable[[], Awaitable[Any]]) -> grpc.StatusCode:
    try:
        await call()
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_another_orgs_resources_are_absent_and_platform_ones_read_only(
    server: StigmerServer, api: Api, make: Builders
) -> None:
    acme = await _key(api, Role.MEMBER, "acme")
    globex = await _key(api, Role.MEMBER, "globex")

    # The org comes from the key: none named, or the key's own; another is refused.
    ours = await acme.call(acme.skills.create, make.skill("shared"))
    assert ours.metadata.org == "acme"
    code = await _code(lambda: globex.call(globex.skills.create, make.skill(org="acme")))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    # Slugs are per org: globex has its own "shared".
    theirs = await globex.call(globex.skills.create, make.skill("shared"))
    assert theirs.metadata.org == "globex"
    platform = await api.call(api.skills.create, make.skill(make.unique("platform")))
    assert platform.metadata.org == ""

    ours_id = SkillId(value=ours.metadata.id)
    for call in (
        lambda: globex.call(globex.skills_q.get, ours_id),
        lambda: globex.call(
            globex.skills_q.getByReference,
            ApiResourceReference(kind=SKILL, org="acme", slug="shared"),
        ),
        lambda: globex.call(globex.skills.update, ours),
        lambda: globex.call(globex.skills.delete, ours_id),
    ):
        assert await _code(call) == grpc.StatusCode.NOT_FOUND
    # A reference without an org resolves in the caller's org, then the platform's.
    found = await globex.call(
        globex.skills_q.getByReference, ApiResourceReference(kind=SKILL, slug="shared")
    )
    assert found.metadata.id == theirs.metadata.id
    found = await globex.call(
        globex.skills_q.getByReference,
        ApiResourceReference(kind=SKILL, slug=platform.metadata.slug),
    )
    assert found.metadata.id == platform.metadata.id

    listed = await globex.call(globex.skills_q.list, ListRequest(page_size=1000))
    orgs = {item.metadata.org for item in listed.items}
    assert orgs == {"globex", ""}
    assert ours.metadata.id not in [item.metadata.id for item in listed.items]
    listed = await globex.call(globex.skills_q.list, ListRequest(org="acme"))
    assert list(listed.items) == []

    # Platform-scope resources: everyone reads them, only platform principals write them.
    assert (await acme.call(acme.skills_q.get, SkillId(value=platform.metadata.id))) == platform
    platform.spec.description = "changed by an org member"
    for call in (
        lambda: acme.call(acme.skills.update, platform),
        lambda: acme.call(acme.skills.delete, SkillId(value=platform.metadata.id)),
    ):
        assert await _code(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_references_and_turns_stay_in_their_org(
    server: StigmerServer, api: Api, make: Builders
) -> None:
    acme = await _key(api, Role.MEMBER, "acme")
    globex = await _key(api, Role.MEMBER, "globex")
    skill = await acme.call(acme.skills.create, make.skill())
    agent_request = make.agent(
        skill_refs=[ApiResourceReference(kind=SKILL, slug=skill.metadata.slug)]
    )
    agent = await acme.call(acme.agents.create, agent_request)
    # Stored resolved, so the runner (platform scope) finds the same skill.
    assert agent.spec.skill_refs[0].org == "acme"
    # Another org's agent cannot be named in a spec.
    code = await _code(
        lambda: globex.call(globex.instances.create, make.instance(agent.metadata.id))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    # Nor can its skill be referenced.
    code = await _code(
        lambda: globex.call(
            globex.agents.create,
            make.agent(
                skill_refs=[ApiResourceReference(kind=SKILL, org="acme", slug=skill.metadata.slug)]
            ),
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND

    instance = await acme.call(acme.instances.create, make.instance(agent.metadata.id))
    session = await acme.call(acme.sessions.create, make.session(instance.metadata.id))
    assert session.metadata.org == "acme"
    execution = await acme.call(
        acme.executions.create, make.execution("ok", session_id=session.metadata.id)
    )
    assert execution.metadata.org == "acme"
    execution_id = AgentExecutionId(value=execution.metadata.id)

    code = await _code(
        lambda: globex.call(
            globex.executions.create, make.execution("ok", session_id=session.metadata.id)
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    for call in (
        lambda: globex.call(globex.executions_q.get, execution_id),
        lambda: globex.call(globex.executions.cancel, execution_id),
        lambda: globex.call(
            globex.executions_q.listBySession,
            ListAgentExecutionsBySessionRequest(session_id=session.metadata.id),
        ),
    ):
        assert await _code(call) == grpc.StatusCode.NOT_FOUND

    async def subscribe() -> None:
        stream = globex.executions_q.subscribe(
            SubscribeAgentExecutionRequest(execution_id=execution.metadata.id),
            metadata=globex.metadata,
        )
        async for _ in stream:
            break

    assert await _code(subscribe) == grpc.StatusCode.NOT_FOUND
    listed = await globex.call(globex.executions_q.list, ListRequest(page_size=1000))
    assert execution.metadata.id not in [item.metadata.id for item in listed.items]
    await acme.call(acme.executions.cancel, execution_id)


async def test_two_orgs_take_turns_with_one_platform_agent(
    server: StigmerServer, api: Api, make: Builders
) -> None:
    acme = await _key(api, Role.MEMBER, "acme")
    globex = await _key(api, Role.MEMBER, "globex")
    agent = await api.call(api.agents.create, make.agent())
    assert agent.metadata.org == ""
    for member, org in ((acme, "acme"), (globex, "globex"), (acme, "acme")):
        turn = await member.call(
            member.executions.create, make.execution("ok", agent_id=agent.metadata.id)
        )
        # The turn and its new session are the caller's, not the platform's.
        assert turn.metadata.org == org
        await member.call(member.executions.cancel, AgentExecutionId(value=turn.metadata.id))


async def test_a_session_is_pinned_only_to_its_own_orgs_sandbox_and_thread(
    server: StigmerServer, api: Api, make: Builders
) -> None:
    acme = await _key(api, Role.MEMBER, "acme")
    globex = await _key(api, Role.MEMBER, "globex")
    runner = await _key(api, Role.RUNNER, "")

    async def session_of(member: Api) -> Any:
        agent = await member.call(member.agents.create, make.agent())
        instance = await member.call(member.instances.create, make.instance(agent.metadata.id))
        return await member.call(member.sessions.create, make.session(instance.metadata.id))

    ours, ours_too, theirs = (
        await session_of(acme),
        await session_of(acme),
        await session_of(globex),
    )
    sandbox, thread = make.unique("sandbox-acme"), make.unique("thread-acme")
    ours.spec.sandbox_id, ours.spec.thread_id = sandbox, thread
    ours = await runner.call(runner.sessions.update, ours)
    assert (ours.spec.sandbox_id, ours.spec.thread_id) == (sandbox, thread)

    # Another org's session may not be pointed at acme's sandbox or conversation.
    for field, value in (("sandbox_id", sandbox), ("thread_id", thread)):
        attempt = type(theirs)()
        attempt.CopyFrom(theirs)
        setattr(attempt.spec, field, value)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await runner.call(runner.sessions.update, attempt)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        assert f"spec.{field}" in (refused.value.details() or "")
    stored = await globex.call(globex.sessions_q.get, SessionId(value=theirs.metadata.id))
    assert (stored.spec.sandbox_id, stored.spec.thread_id) == ("", "")

    # Its own new ids are fine, and so is sharing a sandbox within one org.
    theirs.spec.sandbox_id = make.unique("sandbox-globex")
    assert (await runner.call(runner.sessions.update, theirs)).spec.sandbox_id
    ours_too.spec.sandbox_id = sandbox
    assert (await runner.call(runner.sessions.update, ours_too)).spec.sandbox_id == sandbox
