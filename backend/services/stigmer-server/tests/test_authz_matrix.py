"""The authorization matrix: every RPC the server lists through reflection, called by every
role of org `acme` (viewer, member, admin, runner) and by a platform admin, on a resource of
the caller's org, of another org (`globex`) and of the platform scope, each with the code
it must get.

A role the table does not allow gets PERMISSION_DENIED whatever it names. An allowed caller
gets NOT_FOUND for another org's resource by id, by reference, and finds none of them in a
list; it reads platform-scope resources and may not change them; the platform admin may do
all of it. One server, keys and resources made once: the whole matrix is a few seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf.message import Message

from ai.stigmer.agentic.agent.v1.io_pb2 import AgentId, AgentList
from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    AgentExecutionList,
    AgentExecutionPreview,
    AgentExecutionStatusUpdate,
    ListAgentExecutionsBySessionRequest,
    StatusPreview,
    SubscribeAgentExecutionRequest,
    TextPreview,
    ToolCallDecision,
    ToolCallDecisions,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from ai.stigmer.agentic.agentinstance.v1.io_pb2 import AgentInstanceId, AgentInstanceList
from ai.stigmer.agentic.environment.v1.io_pb2 import EnvironmentId, EnvironmentList
from ai.stigmer.agentic.mcpserver.v1.io_pb2 import McpServerId, McpServerList
from ai.stigmer.agentic.runner.v1.io_pb2 import TurnContextRequest
from ai.stigmer.agentic.session.v1.io_pb2 import SessionId, SessionList
from ai.stigmer.agentic.skill.v1.io_pb2 import SkillId, SkillList
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from ai.stigmer.iam.apikey.v1 import command_pb2_grpc as key_cmd
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from ai.stigmer.iam.apikey.v1.io_pb2 import ApiKeyId, ApiKeyList
from stigmer_server.iam import METHOD_ROLES, Role

if TYPE_CHECKING:
    from conftest import Api, Builders

    from stigmer_testing._server import StigmerServer

pytestmark = pytest.mark.integration

Code = grpc.StatusCode
OK, DENIED, ABSENT = Code.OK, Code.PERMISSION_DENIED, Code.NOT_FOUND
NOT_WAITING = Code.FAILED_PRECONDITION
ACME, GLOBEX = "acme", "globex"
# Targets: the caller's org, another org, the platform scope.
OWN, OTHER, PLATFORM = "own", "other", "platform"
_AGENTIC = "ai.stigmer.agentic"


@dataclass(frozen=True)
class KindInfo:
    name: str
    package: str
    id_type: type[Message]
    list_type: type[Message]
    reference_kind: ApiResourceKind.ValueType


KINDS = (
    KindInfo("Skill", "skill", SkillId, SkillList, ApiResourceKind.API_RESOURCE_KIND_SKILL),
    KindInfo(
        "Environment",
        "environment",
        EnvironmentId,
        EnvironmentList,
        ApiResourceKind.API_RESOURCE_KIND_ENVIRONMENT,
    ),
    KindInfo(
        "McpServer",
        "mcpserver",
        McpServerId,
        McpServerList,
        ApiResourceKind.API_RESOURCE_KIND_MCP_SERVER,
    ),
    KindInfo("Agent", "agent", AgentId, AgentList, ApiResourceKind.API_RESOURCE_KIND_AGENT),
    KindInfo(
        "AgentInstance",
        "agentinstance",
        AgentInstanceId,
        AgentInstanceList,
        ApiResourceKind.API_RESOURCE_KIND_AGENT_INSTANCE,
    ),
    KindInfo(
        "Session", "session", SessionId, SessionList, ApiResourceKind.API_RESOURCE_KIND_SESSION
    ),
    KindInfo(
        "AgentExecution",
        "agentexecution",
        AgentExecutionId,
        AgentExecutionList,
        ApiResourceKind.API_RESOURCE_KIND_AGENT_EXECUTION,
    ),
)


def _path(kind: KindInfo, side: str, method: str) -> str:
    return f"/{_AGENTIC}.{kind.package}.v1.{kind.name}{side}Controller/{method}"


_KEYS = "/ai.stigmer.iam.apikey.v1.ApiKey"
_EXECUTIONS = f"/{_AGENTIC}.agentexecution.v1.AgentExecution"


@dataclass(frozen=True)
class Caller:
    name: str
    token: str
    role: Role
    platform: bool

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    def allowed(self, path: str) -> bool:
        roles = METHOD_ROLES[path]
        # The platform admin is a bootstrap key: it acts as the runner too (security.md).
        return self.role in roles or (self.platform and Role.RUNNER in roles)


Fresh = Callable[[], Awaitable[Message]]


@dataclass(frozen=True)
class Case:
    """One request and what it must get from an allowed org caller and the platform admin."""

    path: str
    target: str
    request: Message
    org_code: Code
    platform_code: Code
    # A request made anew for each allowed caller (deletes, cancels): the call changes it.
    fresh: Fresh | None = None
    # For lists: the response type, the ids an org caller must see and must not see.
    listed: tuple[type[Message], set[str], set[str]] | None = None
    platform_sees: set[str] = field(default_factory=set)


@dataclass
class World:
    """The resources each case names: by kind, one per target (own, other, platform)."""

    api: Api
    make: Builders
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # target -> ApiKey id

    def of(self, kind: str, target: str) -> Any:
        return self.by_kind[kind][target]

    async def new(self, kind: str, target: str) -> Any:
        """A resource of `kind` in the target's org, made by the platform admin."""
        org = {OWN: ACME, OTHER: GLOBEX, PLATFORM: ""}[target]
        api, make = self.api, self.make
        if kind == "AgentExecution":
            session = self.of("Session", target)
            return await api.call(
                api.executions.create, make.execution("turn", session_id=session.metadata.id)
            )
        if kind == "Skill":
            request: Any = make.skill(org=org)
        elif kind == "Environment":
            request = make.environment()
        elif kind == "McpServer":
            request = make.mcp_server()
        elif kind == "Agent":
            request = make.agent()
        elif kind == "AgentInstance":
            request = make.instance(self.of("Agent", target).metadata.id)
        else:
            request = make.session(self.of("AgentInstance", target).metadata.id)
        request.metadata.org = org
        stub = {
            "Skill": api.skills,
            "Environment": api.environments,
            "McpServer": api.mcp_servers,
            "Agent": api.agents,
            "AgentInstance": api.instances,
            "Session": api.sessions,
        }[kind]
        return await api.call(stub.create, request)

    async def cancelled_execution(self, target: str) -> Any:
        """A turn already cancelled: one that may be deleted."""
        turn = await self.new("AgentExecution", target)
        await self.api.call(self.api.executions.cancel, AgentExecutionId(value=turn.metadata.id))
        return turn

    async def new_key(self, target: str) -> str:
        org = {OWN: ACME, OTHER: GLOBEX, PLATFORM: ""}[target]
        created = await _create_key(self.api, Role.VIEWER, org, f"target-{target}")
        return str(created.api_key.metadata.id)


async def _create_key(api: Api, role: Role, org: str, name: str) -> Any:
    request = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
    request.metadata.name = name
    request.metadata.org = org
    request.spec.role = role.proto
    return await api.call(key_cmd.ApiKeyCommandControllerStub(api.channel).create, request)


async def _world(api: Api, make: Builders) -> World:
    world = World(api, make)
    for kind in KINDS:
        world.by_kind[kind.name] = {}
        for target in (OWN, OTHER, PLATFORM):
            world.by_kind[kind.name][target] = await world.new(kind.name, target)
    for target in (OWN, OTHER, PLATFORM):
        world.keys[target] = await world.new_key(target)
    return world


def _org_codes(other: Code, platform_write: Code = DENIED) -> dict[str, tuple[Code, Code]]:
    """(org caller, platform admin) codes per target of a call that names one resource."""
    return {OWN: (OK, OK), OTHER: (other, OK), PLATFORM: (platform_write, OK)}


def _resource_cases(world: World, kind: KindInfo) -> list[Case]:
    cases: list[Case] = []

    def query(method: str) -> str:
        return _path(kind, "Query", method)

    def command(method: str) -> str:
        return _path(kind, "Command", method)

    ids = {target: world.of(kind.name, target).metadata.id for target in (OWN, OTHER, PLATFORM)}
    for target, (org_code, platform_code) in _org_codes(ABSENT, OK).items():
        cases.append(
            Case(query("get"), target, kind.id_type(value=ids[target]), org_code, platform_code)
        )
    # By reference: with the org named, and bare (resolved in the caller's org, then the
    # platform's: the platform admin resolves a bare slug in the platform scope only).
    for target, org, codes in (
        (OWN, ACME, (OK, OK)),
        (OTHER, GLOBEX, (ABSENT, OK)),
        (PLATFORM, "", (OK, OK)),
        (f"{OWN} bare", "", (OK, ABSENT)),
        (f"{OTHER} bare", "", (ABSENT, ABSENT)),
    ):
        stored = world.of(kind.name, target.split()[0])
        ref = ApiResourceReference(
            kind=kind.reference_kind,
            org=org if " " not in target else "",
            slug=stored.metadata.slug,
        )
        cases.append(Case(query("getByReference"), target, ref, *codes))
    every = set(ids.values())
    cases.append(
        Case(
            query("list"),
            "all",
            ListRequest(page_size=1000),
            OK,
            OK,
            listed=(kind.list_type, {ids[OWN], ids[PLATFORM]}, {ids[OTHER]}),
            platform_sees=every,
        )
    )
    cases.append(
        Case(
            query("list"),
            f"{OTHER} org",
            ListRequest(page_size=1000, org=GLOBEX),
            OK,
            OK,
            listed=(kind.list_type, set(), {ids[OTHER]}),
            platform_sees={ids[OTHER]},
        )
    )
    cases += _create_cases(world, kind)
    for target, (org_code, platform_code) in _org_codes(ABSENT).items():
        update = type(world.of(kind.name, target))()
        update.CopyFrom(world.of(kind.name, target))
        update.metadata.version = 0  # no version check: the matrix updates it many times
        cases.append(Case(command("update"), target, update, org_code, platform_code))
    for target, (org_code, platform_code) in _org_codes(ABSENT).items():
        cases.append(
            Case(
                command("delete"),
                target,
                kind.id_type(value=ids[target]),
                org_code,
                platform_code,
                fresh=_fresh_delete(world, kind, target),
            )
        )
    return cases


def _fresh_delete(world: World, kind: KindInfo, target: str) -> Fresh:
    async def fresh() -> Message:
        if kind.name == "AgentExecution":
            made = await world.cancelled_execution(target)  # a running turn is not deleted
        else:
            made = await world.new(kind.name, target)
        return kind.id_type(value=made.metadata.id)

    return fresh


def _create_cases(world: World, kind: KindInfo) -> list[Case]:
    make, path = world.make, _path(kind, "Command", "create")
    if kind.name == "AgentExecution":
        return [
            Case(
                path,
                target,
                make.execution("turn", session_id=world.of("Session", target).metadata.id),
                *codes,
            )
            for target, codes in ((OWN, (OK, OK)), (OTHER, (ABSENT, OK)), (PLATFORM, (OK, OK)))
        ] + [
            # An agent-only turn of a platform agent: the caller's own session is opened.
            Case(
                path,
                f"{PLATFORM} agent",
                make.execution("turn", agent_id=world.of("Agent", PLATFORM).metadata.id),
                OK,
                OK,
            )
        ]
    if kind.name in ("AgentInstance", "Session"):
        # Another org's resource cannot be named in a spec: NOT_FOUND.
        parent = "Agent" if kind.name == "AgentInstance" else "AgentInstance"
        build = make.instance if kind.name == "AgentInstance" else make.session
        return [
            Case(path, target, build(world.of(parent, target).metadata.id), *codes)
            for target, codes in ((OWN, (OK, OK)), (OTHER, (ABSENT, OK)), (PLATFORM, (OK, OK)))
        ]
    builders: dict[str, Callable[[], Any]] = {
        "Skill": make.skill,
        "Environment": make.environment,
        "McpServer": make.mcp_server,
        "Agent": make.agent,
    }
    own, other = builders[kind.name](), builders[kind.name]()
    other.metadata.org = GLOBEX  # naming another org is refused to an org's caller
    cases = [Case(path, OWN, own, OK, OK), Case(path, OTHER, other, DENIED, OK)]
    if kind.name == "Agent":
        skill = world.of("Skill", OTHER)
        ref = ApiResourceReference(
            kind=ApiResourceKind.API_RESOURCE_KIND_SKILL, org=GLOBEX, slug=skill.metadata.slug
        )
        cases.append(Case(path, f"{OTHER} skill", make.agent(skill_refs=[ref]), ABSENT, OK))
    return cases


def _execution_cases(world: World) -> list[Case]:
    cases: list[Case] = []
    sessions = {t: world.of("Session", t).metadata.id for t in (OWN, OTHER, PLATFORM)}
    turns = {t: world.of("AgentExecution", t).metadata.id for t in (OWN, OTHER, PLATFORM)}
    query, command = f"{_EXECUTIONS}QueryController/", f"{_EXECUTIONS}CommandController/"
    for target, (org_code, platform_code) in _org_codes(ABSENT, OK).items():
        cases.append(
            Case(
                query + "listBySession",
                target,
                ListAgentExecutionsBySessionRequest(session_id=sessions[target], page_size=1000),
                org_code,
                platform_code,
                listed=(AgentExecutionList, {turns[target]} if org_code == OK else set(), set()),
                platform_sees={turns[target]},
            )
        )
        cases.append(
            Case(
                query + "subscribe",
                target,
                SubscribeAgentExecutionRequest(execution_id=turns[target]),
                org_code,
                platform_code,
            )
        )
    for target, (org_code, platform_code) in _org_codes(ABSENT).items():
        cases.append(
            Case(
                command + "cancel",
                target,
                AgentExecutionId(value=turns[target]),
                org_code,
                platform_code,
                fresh=_fresh_turn(world, target, AgentExecutionId),
            )
        )
        cases.append(
            Case(
                command + "updateStatus",
                target,
                _status_update(turns[target]),
                org_code,
                platform_code,
                fresh=_fresh_turn(world, target, _status_update),
            )
        )
        cases.append(
            Case(
                command + "streamPreviews",
                target,
                _preview(turns[target]),
                org_code,
                platform_code,
            )
        )
    # The turns wait for no approval: an allowed caller gets as far as that check.
    for target, (org_code, platform_code) in _org_codes(ABSENT).items():
        cases.append(
            Case(
                command + "decide",
                target,
                _decisions(turns[target]),
                NOT_WAITING if org_code == OK else org_code,
                NOT_WAITING if platform_code == OK else platform_code,
            )
        )
    return cases


def _decisions(execution_id: str) -> ToolCallDecisions:
    return ToolCallDecisions(
        execution_id=execution_id,
        decisions=[
            ToolCallDecision(
                tool_call_id="call-1", type=ApprovalDecisionType.APPROVAL_DECISION_APPROVE
            )
        ],
    )


def _turn_context_cases(world: World) -> list[Case]:
    path = f"/{_AGENTIC}.runner.v1.RunnerQueryController/getTurnContext"
    return [
        Case(
            path,
            target,
            TurnContextRequest(execution_id=world.of("AgentExecution", target).metadata.id),
            org_code,
            platform_code,
        )
        for target, (org_code, platform_code) in _org_codes(ABSENT).items()
    ]


def _status_update(execution_id: str) -> AgentExecutionStatusUpdate:
    return AgentExecutionStatusUpdate(
        execution_id=execution_id,
        attempt=1001,
        attempt_sequence=1,
        status=AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_IN_PROGRESS),
    )


def _preview(execution_id: str) -> AgentExecutionPreview:
    return AgentExecutionPreview(
        execution_id=execution_id,
        attempt=1001,
        preview=StatusPreview(texts=[TextPreview(message_id="m", offset=0, text="hi")]),
    )


def _fresh_turn(world: World, target: str, build: Callable[..., Message]) -> Fresh:
    async def fresh() -> Message:
        turn = await world.new("AgentExecution", target)
        if build is AgentExecutionId:
            return AgentExecutionId(value=turn.metadata.id)
        return build(turn.metadata.id)

    return fresh


def _key_cases(world: World) -> list[Case]:
    command, query = f"{_KEYS}CommandController/", f"{_KEYS}QueryController/"

    def key(org: str) -> ApiKey:
        request = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
        request.metadata.name = world.make.unique("matrix-key")
        request.metadata.org = org
        request.spec.role = Role.VIEWER.proto
        return request

    # An org's admin sees its org's keys only: the platform's keys are as absent as another
    # org's.
    codes = {OWN: (OK, OK), OTHER: (ABSENT, OK), PLATFORM: (ABSENT, OK)}
    cases = [
        Case(command + "create", OWN, key(""), OK, OK),
        Case(command + "create", OTHER, key(GLOBEX), DENIED, OK),
        Case(
            query + "list",
            "all",
            ListRequest(page_size=1000),
            OK,
            OK,
            listed=(ApiKeyList, {world.keys[OWN]}, {world.keys[OTHER], world.keys[PLATFORM]}),
            platform_sees=set(world.keys.values()),
        ),
    ]
    for target, (org_code, platform_code) in codes.items():
        cases.append(
            Case(query + "get", target, ApiKeyId(value=world.keys[target]), org_code, platform_code)
        )

        async def fresh(target: str = target) -> Message:
            return ApiKeyId(value=await world.new_key(target))

        cases.append(
            Case(
                command + "revoke",
                target,
                ApiKeyId(value=world.keys[target]),
                org_code,
                platform_code,
                fresh=fresh,
            )
        )
    return cases


async def _call(
    channel: grpc.aio.Channel, path: str, kind: str, request: bytes, caller: Caller
) -> tuple[Code, bytes, str]:
    """The code, the (first) response's bytes and the details of one call."""
    try:
        if kind == "server_streaming":
            subscribe: Any = channel.unary_stream(path)
            stream = subscribe(request, metadata=caller.metadata, timeout=10)
            async for item in stream:
                stream.cancel()  # the first event (the snapshot) shows the read was allowed
                return OK, item, ""
            return OK, b"", ""
        if kind == "client_streaming":
            upload: Any = channel.stream_unary(path)
            reply = await upload(iter([request]), metadata=caller.metadata, timeout=10)
        else:
            unary: Any = channel.unary_unary(path)
            reply = await unary(request, metadata=caller.metadata, timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code(), b"", error.details() or ""
    return OK, reply, ""


@pytest.fixture(scope="module")
async def callers(api: Api) -> list[Caller]:
    made = [
        Caller(role.value, str((await _create_key(api, role, ACME, role.value)).key), role, False)
        for role in Role
    ]
    platform_admin = Caller("platform admin", api.metadata[0][1].split()[1], Role.ADMIN, True)
    return [*made, platform_admin]


async def test_every_method_for_every_role_and_org_gets_its_code(
    server: StigmerServer,
    api: Api,
    make: Builders,
    callers: list[Caller],
    served_methods: list[tuple[str, str]],
) -> None:
    world = await _world(api, make)
    cases = [case for kind in KINDS for case in _resource_cases(world, kind)]
    cases += _execution_cases(world) + _turn_context_cases(world) + _key_cases(world)
    methods = dict(served_methods)
    missing = set(methods) - {case.path for case in cases}
    assert not missing, f"methods with no case in the matrix (add them): {sorted(missing)}"

    failures: list[str] = []
    calls = 0
    async with grpc.aio.insecure_channel(server.address) as channel:
        for case in cases:
            for caller in callers:
                allowed = caller.allowed(case.path)
                expected = (
                    (case.platform_code if caller.platform else case.org_code)
                    if allowed
                    else DENIED
                )
                request = case.request
                if allowed and case.fresh is not None:
                    request = await case.fresh()
                elif case.path.endswith("/create"):
                    request = _renamed(case.request, make.unique("matrix"))
                code, reply, details = await _call(
                    channel, case.path, methods[case.path], request.SerializeToString(), caller
                )
                calls += 1
                where = f"{case.path} [{case.target}] by {caller.name}"
                if code != expected:
                    failures.append(f"{where}: {code.name} ({details}), expected {expected.name}")
                    continue
                if case.listed is not None and code == OK:
                    failures += _list_failures(where, case, caller, reply)
        await _cancel_all(api)
    assert not failures, "\n".join(failures)
    assert calls == len(cases) * len(callers)


def _renamed(request: Message, name: str) -> Message:
    """The request under a new name: each caller's create makes a resource of its own slug."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.metadata.name = name  # type: ignore[attr-defined]
    return copy


def _list_failures(where: str, case: Case, caller: Caller, reply: bytes) -> list[str]:
    assert case.listed is not None
    list_type, must_see, must_not_see = case.listed
    listed = list_type()
    listed.ParseFromString(reply)
    seen = {item.metadata.id for item in listed.items}  # type: ignore[attr-defined]
    if caller.platform:
        must_see, must_not_see = case.platform_sees, set()
    problems = []
    if not must_see <= seen:
        problems.append(f"{where}: the list lacks {sorted(must_see - seen)}")
    if must_not_see & seen:
        problems.append(f"{where}: the list shows another org's {sorted(must_not_see & seen)}")
    return problems


async def _cancel_all(api: Api) -> None:
    """End every turn the matrix started (no runner serves this server's queue)."""
    listed = await api.call(api.executions_q.list, ListRequest(page_size=1000))
    for turn in listed.items:
        if turn.status.phase in (
            ExecutionPhase.EXECUTION_PENDING,
            ExecutionPhase.EXECUTION_IN_PROGRESS,
        ):
            await api.call(api.executions.cancel, AgentExecutionId(value=turn.metadata.id))
