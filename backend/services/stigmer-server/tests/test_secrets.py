"""Secret values are write-only for users: every response to a key that is not the runner's
has them masked (empty), on every read path; an update that sends them back masked keeps
them; the runner reads them in clear."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.environment.v1.io_pb2 import EnvironmentId
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from ai.stigmer.iam.apikey.v1 import command_pb2_grpc as key_cmd
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from stigmer_server.iam import Role
from stigmer_testing._server import StigmerServer

if TYPE_CHECKING:
    from conftest import Api, Builders

pytestmark = pytest.mark.integration

CANARY = "canary-7f3a9c-not-a-real-secret"


async def _key(api: Api, role: Role) -> Api:
    request = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
    request.metadata.name = f"secrets-{role.value}"
    request.spec.role = role.proto
    created = await api.call(key_cmd.ApiKeyCommandControllerStub(api.channel).create, request)
    return type(api)(api.channel, (("authorization", f"Bearer {created.key}"),))


def _secret() -> EnvironmentValue:
    return EnvironmentValue(value=CANARY, is_secret=True)


async def test_users_never_read_a_secret_and_the_runner_does(
    server: StigmerServer, api: Api, make: Builders
) -> None:
    member = await _key(api, Role.MEMBER)
    viewer = await _key(api, Role.VIEWER)
    runner = await _key(api, Role.RUNNER)

    request = make.environment(PLAIN="visible")
    request.spec.data["TOKEN"].CopyFrom(_secret())
    created = await member.call(member.environments.create, request)
    assert CANARY not in str(created)
    assert created.spec.data["TOKEN"].is_secret
    assert created.spec.data["PLAIN"].value == "visible"
    env_id = EnvironmentId(value=created.metadata.id)
    reference = ApiResourceReference(
        kind=ApiResourceKind.API_RESOURCE_KIND_ENVIRONMENT, slug=created.metadata.slug
    )
    reads: list[Any] = []
    for user in (member, viewer):
        reads.append(await user.call(user.environments_q.get, env_id))
        reads.append(await user.call(user.environments_q.getByReference, reference))
        reads.append(await user.call(user.environments_q.list, ListRequest(page_size=1000)))
    assert all(CANARY not in str(read) for read in reads)

    # Sent back as read (masked), the secret is kept; the runner reads it in clear.
    read = reads[0]
    read.spec.data["PLAIN"].value = "changed"
    updated = await member.call(member.environments.update, read)
    assert CANARY not in str(updated)
    clear = await runner.call(runner.environments_q.get, env_id)
    assert clear.spec.data["TOKEN"].value == CANARY
    assert clear.spec.data["PLAIN"].value == "changed"

    # Nested (an agent's env_spec) and in a turn's runtime env, subscribe included.
    agent_request = make.agent()
    agent_request.spec.env_spec.data["TOKEN"].CopyFrom(_secret())
    agent = await member.call(member.agents.create, agent_request)
    assert CANARY not in str(agent)
    assert CANARY not in str(
        await viewer.call(viewer.agents_q.get, AgentId(value=agent.metadata.id))
    )
    turn_request = make.execution("ok", agent_id=agent.metadata.id)
    turn_request.spec.runtime_env["TOKEN"].CopyFrom(_secret())
    turn = await member.call(member.executions.create, turn_request)
    assert CANARY not in str(turn)
    turn_id = AgentExecutionId(value=turn.metadata.id)
    stream = viewer.executions_q.subscribe(
        SubscribeAgentExecutionRequest(execution_id=turn.metadata.id), metadata=viewer.metadata
    )
    first = await stream.read()
    stream.cancel()
    assert first.snapshot.metadata.id == turn.metadata.id
    assert CANARY not in str(first)
    assert (await runner.call(runner.executions_q.get, turn_id)).spec.runtime_env[
        "TOKEN"
    ].value == CANARY
    await member.call(member.executions.cancel, turn_id)
