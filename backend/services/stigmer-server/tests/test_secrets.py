"""Secret values are write-only: every response has them masked (empty), on every read path
and for every key, the runner's and the operator's included; an update that sends them back
masked keeps them; only the runner's turn-context read returns them in clear."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
import pytest

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.environment.v1.io_pb2 import EnvironmentId
from ai.stigmer.agentic.runner.v1.io_pb2 import TurnContextRequest
from ai.stigmer.agentic.runner.v1.query_pb2_grpc import RunnerQueryControllerStub
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


async def test_no_read_shows_a_secret_but_the_runners_turn_context(
    server: StigmerServer, api: Api, make: Builders
) -> None:
    member = await _key(api, Role.MEMBER)
    viewer = await _key(api, Role.VIEWER)
    runner = await _key(api, Role.RUNNER)
    # The runner's key and the operator's bootstrap key mask like any other on every read
    # but the runner's turn-context read.
    readers = (member, viewer, runner, api)

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
    reads.append(await api.call(api.environments_q.get, env_id))
    reads.append(await api.call(api.environments_q.list, ListRequest(page_size=1000)))
    assert all(CANARY not in str(read) for read in reads)

    # Sent back as read (masked), the secret is kept.
    read = reads[0]
    read.spec.data["PLAIN"].value = "changed"
    updated = await member.call(member.environments.update, read)
    assert CANARY not in str(updated)
    assert updated.metadata.version == created.metadata.version + 1
    # Sent back again as read, it changes nothing: nothing is stored, the version stays.
    again = await member.call(member.environments.update, updated)
    assert again.metadata.version == updated.metadata.version
    assert again.metadata.updated_at == updated.metadata.updated_at

    # Nested (an agent's env_spec) and in a turn's runtime env, subscribe included.
    agent_request = make.agent()
    agent_request.spec.env_spec.data["TOKEN"].CopyFrom(_secret())
    agent = await member.call(member.agents.create, agent_request)
    assert CANARY not in str(agent)
    instance = await member.call(
        member.instances.create, make.instance(agent.metadata.id, created.metadata.slug)
    )
    session = await member.call(member.sessions.create, make.session(instance.metadata.id))
    turn_request = make.execution("ok", session_id=session.metadata.id)
    turn_request.spec.runtime_env["TOKEN"].CopyFrom(_secret())
    turn = await member.call(member.executions.create, turn_request)
    assert CANARY not in str(turn)
    turn_id = AgentExecutionId(value=turn.metadata.id)
    for user in readers:
        assert CANARY not in str(await user.call(user.executions_q.get, turn_id))
        if user is runner:
            continue  # beyond its turn context, the runner reads sessions and turns only
        assert CANARY not in str(
            await user.call(user.agents_q.get, AgentId(value=agent.metadata.id))
        )
        stream = user.executions_q.subscribe(
            SubscribeAgentExecutionRequest(execution_id=turn.metadata.id), metadata=user.metadata
        )
        first = await stream.read()
        stream.cancel()
        assert first.snapshot.metadata.id == turn.metadata.id
        assert CANARY not in str(first)

    # The runner's one read has them all in clear, resolved in one call.
    context = await runner.call(
        RunnerQueryControllerStub(runner.channel).getTurnContext,
        TurnContextRequest(execution_id=turn.metadata.id),
    )
    assert context.execution.spec.runtime_env["TOKEN"].value == CANARY
    assert context.agent.spec.env_spec.data["TOKEN"].value == CANARY
    (environment,) = context.environments
    assert environment.spec.data["TOKEN"].value == CANARY
    assert environment.spec.data["PLAIN"].value == "changed"
    assert (context.session.metadata.id, context.agent_instance.metadata.id) == (
        session.metadata.id,
        instance.metadata.id,
    )
    for user in (member, viewer):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await user.call(
                RunnerQueryControllerStub(user.channel).getTurnContext,
                TurnContextRequest(execution_id=turn.metadata.id),
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await member.call(member.executions.cancel, turn_id)
