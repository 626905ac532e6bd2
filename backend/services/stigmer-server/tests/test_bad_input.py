# ruff: noqa: E501  (the case table reads best one case per line)
"""Bad input: the right status code, a message naming the field, and nothing written.

Each case runs against the same server and world; the database is read before and after
each case, so a rejected request that wrote anything fails its case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId
from ai.stigmer.agentic.agent.v1.spec_pb2 import (
    ApprovalDecisionType,
    ApprovalTimeoutAction,
    SandboxSpec,
    SubAgent,
    ToolApprovalRule,
)
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    AgentExecutionStatusUpdate,
    ListAgentExecutionsBySessionRequest,
    SubscribeAgentExecutionRequest,
    ToolCallDecision,
    ToolCallDecisions,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from ai.stigmer.agentic.environment.v1.spec_pb2 import EnvironmentSpec
from ai.stigmer.agentic.mcpserver.v1.spec_pb2 import StdioTransport, StreamableHttpTransport
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind, ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference

if TYPE_CHECKING:
    from conftest import Api, Builders


pytestmark = pytest.mark.integration

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
EXISTS = grpc.StatusCode.ALREADY_EXISTS
ABORTED = grpc.StatusCode.ABORTED
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
MISSING_ID = "aex-01aaaaaaaaaaaaaaaaaaaaaaaa"
BIG = "x" * (1_048_576 + 1)
APPROVE = ApprovalDecisionType.APPROVAL_DECISION_APPROVE


@dataclass
class World:
    make: Builders
    skill: Any
    env: Any
    agent: Any
    other_agent: Any
    instance: Any
    session: Any
    execution: Any


@pytest.fixture(scope="module")
async def world(api: Api, make: Builders) -> World:
    skill = await api.call(api.skills.create, make.skill())
    env = await api.call(api.environments.create, make.environment(A="1"))
    agent = await api.call(api.agents.create, make.agent())
    other = await api.call(api.agents.create, make.agent())
    instance = await api.call(api.instances.create, make.instance(agent.metadata.id))
    session = await api.call(api.sessions.create, make.session(instance.metadata.id))
    # No runner polls this server's queue: the turn stays PENDING and writes nothing.
    execution = await api.call(
        api.executions.create, make.execution("wait", session_id=session.metadata.id)
    )
    return World(make, skill, env, agent, other, instance, session, execution)


def _copy(message: Any, edit: Callable[[Any], object]) -> Any:
    result = type(message)()
    result.CopyFrom(message)
    edit(result)
    return result


def _raw_agent(metadata_name: bytes, instructions: bytes = b"") -> bytes:
    """An Agent on the wire with chosen raw bytes in metadata.name and spec.instructions."""

    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    metadata = field(2, metadata_name)
    spec = field(3, instructions) if instructions else b""
    return (
        field(1, b"agentic.stigmer.ai/v1")
        + field(2, b"Agent")
        + field(3, metadata)
        + field(4, spec)
    )


Request = Callable[["Api", World], tuple[Any, Any]]


def _cases() -> list[Any]:
    cases: list[tuple[str, Request, grpc.StatusCode, str]] = [
        # api_version and kind
        ("agent-no-api-version", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: m.ClearField("api_version"))), INVALID, "api_version: value must equal agentic.stigmer.ai/v1"),
        ("agent-wrong-api-version", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m, "api_version", "agentic.stigmer.ai/v2"))), INVALID, "api_version: value must equal agentic.stigmer.ai/v1"),
        ("agent-no-kind", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: m.ClearField("kind"))), INVALID, "kind: value must equal Agent"),
        ("agent-wrong-kind", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m, "kind", "Skill"))), INVALID, "kind: value must equal Agent"),
        ("skill-wrong-kind", lambda a, w: (a.skills.create, _copy(w.make.skill(), lambda m: setattr(m, "kind", "skill"))), INVALID, "kind: value must equal Skill"),
        ("execution-wrong-api-version", lambda a, w: (a.executions.create, _copy(w.make.execution("hi", session_id=w.session.metadata.id), lambda m: setattr(m, "api_version", "v1"))), INVALID, "api_version"),
        # metadata
        ("agent-no-name", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: m.metadata.ClearField("name"))), INVALID, "metadata.name"),
        ("agent-bad-slug", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m.metadata, "slug", "Bad Slug"))), INVALID, "metadata.slug"),
        ("agent-slug-too-long", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m.metadata, "slug", "a" * 64))), INVALID, "metadata.slug"),
        ("agent-name-too-long", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m.metadata, "name", "n" * 300))), INVALID, "metadata.name"),
        ("agent-id-on-create", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m.metadata, "id", "agt-01aaaaaaaaaaaaaaaaaaaaaaaa"))), INVALID, "metadata.id"),
        ("agent-too-many-labels", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: m.metadata.labels.update({f"k{i}": "v" for i in range(65)}))), INVALID, "metadata.labels"),
        ("agent-org-scope-without-org", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m.metadata, "owner_scope", ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION))), INVALID, "metadata.org"),
        ("agent-duplicate-slug", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m.metadata, "slug", w.agent.metadata.slug))), EXISTS, "metadata.slug"),
        # sizes and encodings
        ("agent-oversized-instructions", lambda a, w: (a.agents.create, _copy(w.make.agent(), lambda m: setattr(m.spec, "instructions", BIG))), INVALID, "spec.instructions"),
        ("skill-oversized-body", lambda a, w: (a.skills.create, _copy(w.make.skill(), lambda m: setattr(m.spec, "markdown_content", BIG))), INVALID, "spec.markdown_content"),
        ("agent-invalid-utf8-name", lambda a, w: ("/ai.stigmer.agentic.agent.v1.AgentCommandController/create", _raw_agent(b"\xff\xfe")), INVALID, "metadata.name: not valid UTF-8"),
        ("agent-invalid-utf8-instructions", lambda a, w: ("/ai.stigmer.agentic.agent.v1.AgentCommandController/create", _raw_agent(b"ok", b"\xc3\x28")), INVALID, "spec.instructions: not valid UTF-8"),
        # agent spec and references
        ("agent-unknown-skill", lambda a, w: (a.agents.create, w.make.agent(skill_refs=[ApiResourceReference(slug="no-such-skill")])), NOT_FOUND, "spec.skill_refs[0].slug"),
        ("agent-skill-ref-wrong-kind", lambda a, w: (a.agents.create, w.make.agent(skill_refs=[ApiResourceReference(kind=ApiResourceKind.API_RESOURCE_KIND_AGENT, slug=w.skill.metadata.slug)])), INVALID, "spec.skill_refs[0].kind"),
        ("agent-skill-ref-no-slug", lambda a, w: (a.agents.create, w.make.agent(skill_refs=[ApiResourceReference()])), INVALID, "spec.skill_refs[0].slug"),
        ("agent-bad-env-name", lambda a, w: (a.agents.create, w.make.agent(env_spec=EnvironmentSpec(data={"BAD NAME": EnvironmentValue(value="x")}))), INVALID, "spec.env_spec.data"),
        ("agent-bad-sandbox", lambda a, w: (a.agents.create, w.make.agent(sandbox=SandboxSpec(type="vm"))), INVALID, "spec.sandbox.type"),
        ("agent-sub-agent-no-name", lambda a, w: (a.agents.create, w.make.agent(sub_agents=[SubAgent(description="d")])), INVALID, "spec.sub_agents[0].name"),
        ("agent-sub-agent-duplicate", lambda a, w: (a.agents.create, w.make.agent(sub_agents=[SubAgent(name="r"), SubAgent(name="r")])), INVALID, "spec.sub_agents[1].name"),
        ("agent-sub-agent-unknown-skill", lambda a, w: (a.agents.create, w.make.agent(sub_agents=[SubAgent(name="r", skill_refs=[ApiResourceReference(slug="nope")])])), NOT_FOUND, "spec.sub_agents[0].skill_refs[0].slug"),
        ("approval-empty-tool", lambda a, w: (a.agents.create, w.make.agent(tool_approvals=[ToolApprovalRule()])), INVALID, "spec.tool_approvals[0].tool: required"),
        ("approval-bad-glob", lambda a, w: (a.agents.create, w.make.agent(tool_approvals=[ToolApprovalRule(tool="exec[ute")])), INVALID, "spec.tool_approvals[0].tool"),
        ("approval-bad-mcp", lambda a, w: (a.agents.create, w.make.agent(tool_approvals=[ToolApprovalRule(tool="execute"), ToolApprovalRule(tool="mcp:github")])), INVALID, "spec.tool_approvals[1].tool: expected mcp:"),
        ("approval-bad-decision", lambda a, w: (a.agents.create, w.make.agent(tool_approvals=[ToolApprovalRule(tool="execute", allowed_decisions=[ApprovalDecisionType.APPROVAL_DECISION_TYPE_UNSPECIFIED])])), INVALID, "spec.tool_approvals[0].allowed_decisions[0]"),
        ("approval-zero-timeout", lambda a, w: (a.agents.create, w.make.agent(tool_approvals=[ToolApprovalRule(tool="execute", timeout=Duration())])), INVALID, "spec.tool_approvals[0].timeout"),
        ("approval-on-timeout-alone", lambda a, w: (a.agents.create, w.make.agent(tool_approvals=[ToolApprovalRule(tool="execute", on_timeout=ApprovalTimeoutAction.APPROVAL_TIMEOUT_FAIL)])), INVALID, "spec.tool_approvals[0].on_timeout"),
        ("approval-sub-agent-bad-rule", lambda a, w: (a.agents.create, w.make.agent(sub_agents=[SubAgent(name="r", tool_approvals=[ToolApprovalRule(tool="has space")])])), INVALID, "spec.sub_agents[0].tool_approvals[0].tool"),
        # update
        ("agent-update-no-id", lambda a, w: (a.agents.update, _copy(w.agent, lambda m: m.metadata.ClearField("id"))), INVALID, "metadata.id"),
        ("agent-update-unknown-id", lambda a, w: (a.agents.update, _copy(w.agent, lambda m: setattr(m.metadata, "id", "agt-01aaaaaaaaaaaaaaaaaaaaaaaa"))), NOT_FOUND, "metadata.id"),
        ("agent-update-stale-version", lambda a, w: (a.agents.update, _copy(w.agent, lambda m: setattr(m.metadata, "version", 7))), ABORTED, "metadata.version"),
        ("agent-update-to-taken-slug", lambda a, w: (a.agents.update, _copy(w.other_agent, lambda m: setattr(m.metadata, "slug", w.agent.metadata.slug))), EXISTS, "metadata.slug"),
        ("agent-update-wrong-kind", lambda a, w: (a.agents.update, _copy(w.agent, lambda m: setattr(m, "kind", "Agents"))), INVALID, "kind: value must equal Agent"),
        # get, delete, list
        ("agent-get-empty-id", lambda a, w: (a.agents_q.get, AgentId()), INVALID, "value: required"),
        ("agent-get-unknown-id", lambda a, w: (a.agents_q.get, AgentId(value="agt-01aaaaaaaaaaaaaaaaaaaaaaaa")), NOT_FOUND, "agt-01aaaaaaaaaaaaaaaaaaaaaaaa"),
        ("agent-delete-unknown-id", lambda a, w: (a.agents.delete, AgentId(value="agt-01aaaaaaaaaaaaaaaaaaaaaaaa")), NOT_FOUND, "value"),
        ("agent-by-reference-no-slug", lambda a, w: (a.agents_q.getByReference, ApiResourceReference()), INVALID, "reference.slug"),
        ("agent-by-reference-wrong-kind", lambda a, w: (a.agents_q.getByReference, ApiResourceReference(kind=ApiResourceKind.API_RESOURCE_KIND_SKILL, slug="x")), INVALID, "reference.kind"),
        ("agent-by-reference-unknown", lambda a, w: (a.agents_q.getByReference, ApiResourceReference(slug="no-such-agent")), NOT_FOUND, "no-such-agent"),
        ("list-negative-page-size", lambda a, w: (a.agents_q.list, ListRequest(page_size=-1)), INVALID, "page_size"),
        ("list-bad-page-token", lambda a, w: (a.skills_q.list, ListRequest(page_token="garbage")), INVALID, "page_token"),
        # other kinds
        ("skill-empty-body", lambda a, w: (a.skills.create, _copy(w.make.skill(), lambda m: m.spec.ClearField("markdown_content"))), INVALID, "spec.markdown_content"),
        ("environment-bad-name", lambda a, w: (a.environments.create, w.make.environment(**{"1BAD": "x"})), INVALID, "spec.data"),
        ("mcp-no-transport", lambda a, w: (a.mcp_servers.create, _copy(w.make.mcp_server(), lambda m: m.spec.ClearField("streamable_http"))), INVALID, "spec: required: one transport"),
        ("mcp-url-not-http", lambda a, w: (a.mcp_servers.create, w.make.mcp_server(streamable_http=StreamableHttpTransport(url="ftp://example.org/mcp"))), INVALID, "spec.streamable_http.url: expected an http:// or https:// URL"),
        ("mcp-url-no-host", lambda a, w: (a.mcp_servers.create, w.make.mcp_server(streamable_http=StreamableHttpTransport(url="http:///mcp"))), INVALID, "spec.streamable_http.url"),
        ("mcp-stdio-no-command", lambda a, w: (a.mcp_servers.create, w.make.mcp_server(stdio=StdioTransport(args=["server.py"]))), INVALID, "spec.stdio.command: required"),
        ("mcp-header-bare-dollar", lambda a, w: (a.mcp_servers.create, w.make.mcp_server(streamable_http=StreamableHttpTransport(url="http://h/mcp", headers={"Authorization": "Bearer $TOKEN"}))), INVALID, "spec.streamable_http.headers['Authorization']: unknown variable form"),
        ("mcp-env-bad-variable", lambda a, w: (a.mcp_servers.create, w.make.mcp_server(stdio=StdioTransport(command="python3", env={"TOKEN": "${bad name}"}))), INVALID, "spec.stdio.env['TOKEN']: unknown variable form"),
        ("mcp-env-bad-name", lambda a, w: (a.mcp_servers.create, w.make.mcp_server(stdio=StdioTransport(command="python3", env={"1X": "v"}))), INVALID, "spec.stdio.env"),
        ("mcp-duplicate-tool", lambda a, w: (a.mcp_servers.create, w.make.mcp_server(stdio=StdioTransport(command="python3"), tools=["echo", "echo"])), INVALID, "spec.tools[1]"),
        ("mcp-tool-timeout-zero", lambda a, w: (a.mcp_servers.create, _copy(w.make.mcp_server(), lambda m: m.spec.tool_timeout.SetInParent())), INVALID, "spec.tool_timeout: expected from 1 s to 24 h, got 0 s"),
        ("mcp-tool-timeout-two-days", lambda a, w: (a.mcp_servers.create, _copy(w.make.mcp_server(), lambda m: setattr(m.spec.tool_timeout, "seconds", 2 * 86400))), INVALID, "spec.tool_timeout"),
        ("agent-unknown-mcp-server", lambda a, w: (a.agents.create, w.make.agent(mcp_server_refs=[ApiResourceReference(slug="no-such-mcp")])), NOT_FOUND, "spec.mcp_server_refs[0].slug"),
        ("agent-mcp-ref-wrong-kind", lambda a, w: (a.agents.create, w.make.agent(mcp_server_refs=[ApiResourceReference(kind=ApiResourceKind.API_RESOURCE_KIND_SKILL, slug="x")])), INVALID, "spec.mcp_server_refs[0].kind"),
        ("agent-sub-agent-unknown-mcp-server", lambda a, w: (a.agents.create, w.make.agent(sub_agents=[SubAgent(name="r", mcp_server_refs=[ApiResourceReference(slug="nope")])])), NOT_FOUND, "spec.sub_agents[0].mcp_server_refs[0].slug"),
        ("instance-no-agent", lambda a, w: (a.instances.create, w.make.instance("")), INVALID, "spec.agent_id"),
        ("instance-unknown-agent", lambda a, w: (a.instances.create, w.make.instance("agt-01aaaaaaaaaaaaaaaaaaaaaaaa")), NOT_FOUND, "spec.agent_id"),
        ("instance-unknown-environment", lambda a, w: (a.instances.create, w.make.instance(w.agent.metadata.id, "no-such-env")), NOT_FOUND, "spec.environment_refs[0].slug"),
        ("session-no-instance", lambda a, w: (a.sessions.create, w.make.session("")), INVALID, "spec.agent_instance_id"),
        ("session-unknown-instance", lambda a, w: (a.sessions.create, w.make.session("ain-01aaaaaaaaaaaaaaaaaaaaaaaa")), NOT_FOUND, "spec.agent_instance_id"),
        ("session-change-instance", lambda a, w: (a.sessions.update, _copy(w.session, lambda m: setattr(m.spec, "agent_instance_id", "ain-01aaaaaaaaaaaaaaaaaaaaaaaa"))), INVALID, "spec.agent_instance_id"),
        # executions
        ("execution-no-session-no-agent", lambda a, w: (a.executions.create, w.make.execution("hi")), INVALID, "spec.session_id"),
        ("execution-empty-message", lambda a, w: (a.executions.create, w.make.execution("  ", session_id=w.session.metadata.id)), INVALID, "spec.message"),
        ("execution-unknown-session", lambda a, w: (a.executions.create, w.make.execution("hi", session_id="ses-01aaaaaaaaaaaaaaaaaaaaaaaa")), NOT_FOUND, "spec.session_id"),
        ("execution-unknown-agent", lambda a, w: (a.executions.create, w.make.execution("hi", agent_id="agt-01aaaaaaaaaaaaaaaaaaaaaaaa")), NOT_FOUND, "spec.agent_id"),
        ("execution-agent-not-of-session", lambda a, w: (a.executions.create, w.make.execution("hi", session_id=w.session.metadata.id, agent_id=w.other_agent.metadata.id)), INVALID, "spec.agent_id"),
        ("execution-bad-runtime-env", lambda a, w: (a.executions.create, _copy(w.make.execution("hi", session_id=w.session.metadata.id), lambda m: m.spec.runtime_env["A B"].CopyFrom(EnvironmentValue(value="x")))), INVALID, "spec.runtime_env"),
        ("execution-update-spec", lambda a, w: (a.executions.update, _copy(w.execution, lambda m: setattr(m.spec, "message", "changed"))), INVALID, "spec: an execution's spec cannot change"),
        ("execution-delete-running", lambda a, w: (a.executions.delete, AgentExecutionId(value=w.execution.metadata.id)), PRECONDITION, "cancel it first"),
        ("update-status-no-id", lambda a, w: (a.executions.updateStatus, AgentExecutionStatusUpdate(status=AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_IN_PROGRESS))), INVALID, "execution_id"),
        ("update-status-unknown", lambda a, w: (a.executions.updateStatus, AgentExecutionStatusUpdate(execution_id=MISSING_ID, status=AgentExecutionStatus())), NOT_FOUND, "execution_id"),
        ("update-status-no-status", lambda a, w: (a.executions.updateStatus, AgentExecutionStatusUpdate(execution_id=w.execution.metadata.id)), INVALID, "status: required"),
        ("update-status-message-without-id", lambda a, w: (a.executions.updateStatus, AgentExecutionStatusUpdate(execution_id=w.execution.metadata.id, status=AgentExecutionStatus(messages=[AgentMessage(content="x")]))), INVALID, "status.messages[0].id"),
        ("update-status-negative-sequence", lambda a, w: (a.executions.updateStatus, AgentExecutionStatusUpdate(execution_id=w.execution.metadata.id, status=AgentExecutionStatus(sequence=-1))), INVALID, "status.sequence"),
        ("update-status-oversized", lambda a, w: (a.executions.updateStatus, AgentExecutionStatusUpdate(execution_id=w.execution.metadata.id, status=AgentExecutionStatus(messages=[AgentMessage(id="m", content=BIG)]))), INVALID, "status.messages[0].content"),
        ("decide-no-execution", lambda a, w: (a.executions.decide, ToolCallDecisions()), INVALID, "execution_id: required"),
        ("decide-unknown-execution", lambda a, w: (a.executions.decide, ToolCallDecisions(execution_id=MISSING_ID)), NOT_FOUND, MISSING_ID),
        ("decide-not-waiting", lambda a, w: (a.executions.decide, ToolCallDecisions(execution_id=w.execution.metadata.id, decisions=[ToolCallDecision(tool_call_id="c1", type=APPROVE)])), PRECONDITION, "execution_id: execution"),
        ("cancel-unknown", lambda a, w: (a.executions.cancel, AgentExecutionId(value=MISSING_ID)), NOT_FOUND, MISSING_ID),
        ("list-by-session-empty", lambda a, w: (a.executions_q.listBySession, ListAgentExecutionsBySessionRequest()), INVALID, "session_id"),
        ("list-by-session-unknown", lambda a, w: (a.executions_q.listBySession, ListAgentExecutionsBySessionRequest(session_id="ses-01aaaaaaaaaaaaaaaaaaaaaaaa")), NOT_FOUND, "session_id"),
        ("subscribe-empty-id", lambda a, w: (a.executions_q.subscribe, SubscribeAgentExecutionRequest()), INVALID, "execution_id"),
        ("subscribe-unknown", lambda a, w: (a.executions_q.subscribe, SubscribeAgentExecutionRequest(execution_id=MISSING_ID)), NOT_FOUND, MISSING_ID),
        ("subscribe-negative-after", lambda a, w: (a.executions_q.subscribe, SubscribeAgentExecutionRequest(execution_id=w.execution.metadata.id, after_sequence=-2)), INVALID, "after_sequence"),
    ]  # fmt: skip
    return [pytest.param(request, code, text, id=name) for name, request, code, text in cases]


async def _send(api: Api, target: Any, request: Any) -> None:
    if isinstance(target, str):
        raw: Any = api.channel.unary_unary(target)
        await raw(request, metadata=api.metadata, timeout=30)
    elif target is api.executions_q.subscribe:
        async for _ in target(request, metadata=api.metadata, timeout=30):
            pass
    else:
        await api.call(target, request)


@pytest.mark.parametrize(("build", "code", "text"), _cases())
async def test_rejected_and_nothing_written(
    api: Api,
    world: World,
    stored_rows: Callable[[], list[tuple[str, bytes]]],
    build: Request,
    code: grpc.StatusCode,
    text: str,
) -> None:
    target, request = build(api, world)
    before = stored_rows()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _send(api, target, request)
    assert raised.value.code() == code, raised.value.details()
    assert text in (raised.value.details() or "")
    assert stored_rows() == before


def test_there_are_at_least_forty_cases() -> None:
    assert len(_cases()) >= 40


async def test_status_smuggled_into_create_is_ignored(api: Api, world: World) -> None:
    request = world.make.execution("wait", session_id=world.session.metadata.id)
    request.status.phase = ExecutionPhase.EXECUTION_COMPLETED
    request.status.messages.add(id="fake", content="smuggled")
    created = await api.call(api.executions.create, request)
    assert created.status.phase == ExecutionPhase.EXECUTION_PENDING
    assert not created.status.messages


async def test_status_smuggled_into_update_is_ignored(api: Api, world: World) -> None:
    stored = await api.call(
        api.executions_q.get, AgentExecutionId(value=world.execution.metadata.id)
    )
    request = _copy(stored, lambda m: m.metadata.labels.update({"note": "x"}))
    request.status.phase = ExecutionPhase.EXECUTION_COMPLETED
    request.status.error = "smuggled"
    request.status.sequence = 99
    updated = await api.call(api.executions.update, request)
    assert updated.metadata.labels["note"] == "x"
    assert updated.status == stored.status
    again = await api.call(
        api.executions_q.get, AgentExecutionId(value=world.execution.metadata.id)
    )
    assert again.status == stored.status
