"""Every RPC, found through server reflection, refuses a missing and a wrong API key, and
each role is allowed exactly the methods of the authorization table.

The list of methods comes from the running server, so an RPC added later is covered
without touching this test (and fails it until the table says who may call it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from ai.stigmer.iam.apikey.v1 import command_pb2_grpc as key_cmd
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from stigmer_server.iam import METHOD_ROLES, Role

if TYPE_CHECKING:
    from stigmer_testing._server import StigmerServer

pytestmark = pytest.mark.integration


async def _call(
    channel: grpc.aio.Channel, path: str, kind: str, metadata: tuple[tuple[str, str], ...]
) -> tuple[grpc.StatusCode, str]:
    """The status an empty request gets: raw bytes, so every method takes the same call."""
    try:
        if kind == "server_streaming":
            stream: Any = channel.unary_stream(path)
            async for _ in stream(b"", metadata=metadata, timeout=10):
                pass
        elif kind == "client_streaming":
            upload: Any = channel.stream_unary(path)
            await upload(iter([b""]), metadata=metadata, timeout=10)
        else:
            unary: Any = channel.unary_unary(path)
            await unary(b"", metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


async def test_every_rpc_rejects_missing_and_wrong_keys(
    server: StigmerServer, served_methods: list[tuple[str, str]]
) -> None:
    methods = served_methods
    # 7 kinds x 6 RPCs, 6 execution RPCs (decide among them), the ApiKey API's 4, the runner's read.
    assert len(methods) == 53, methods
    execution = "/ai.stigmer.agentic.agentexecution.v1"
    assert (f"{execution}.AgentExecutionQueryController/subscribe", "server_streaming") in methods
    assert (
        f"{execution}.AgentExecutionCommandController/streamPreviews",
        "client_streaming",
    ) in methods
    wrong = (
        (),
        (("authorization", "Bearer not-the-key"),),
        (("authorization", server.api_key),),  # no scheme
        (("authorization", f"Basic {server.api_key}"),),
        (("authorization", f"Bearer {server.api_key}x"),),
    )
    async with grpc.aio.insecure_channel(server.address) as channel:
        for path, kind in methods:
            for metadata in wrong:
                code, details = await _call(channel, path, kind, metadata)
                assert code == grpc.StatusCode.UNAUTHENTICATED, (path, metadata)
                assert "API key" in details
            # With the right key the same empty request gets past auth (and is judged on
            # its content), which shows the loop above tested auth, not a broken method.
            code, _ = await _call(channel, path, kind, server.metadata)
            assert code != grpc.StatusCode.UNAUTHENTICATED, path


async def test_health_and_reflection_need_no_key(server: StigmerServer) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        service = "ai.stigmer.agentic.agent.v1.AgentCommandController"
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service)
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_key_never_reaches_the_log(server: StigmerServer) -> None:
    assert server.api_key not in server.log()


async def _new_key(server: StigmerServer, role: Role, org: str = "") -> str:
    async with grpc.aio.insecure_channel(server.address) as channel:
        key = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
        key.metadata.name = f"matrix-{role.value}"
        key.metadata.org = org
        key.spec.role = role.proto
        created = await key_cmd.ApiKeyCommandControllerStub(channel).create(
            key, metadata=server.metadata, timeout=10
        )
        return str(created.key)


async def test_the_table_names_every_method_the_server_serves(
    served_methods: list[tuple[str, str]],
) -> None:
    served = {path for path, _ in served_methods}
    assert served == set(METHOD_ROLES), (served - set(METHOD_ROLES), set(METHOD_ROLES) - served)


async def test_every_method_for_every_role_is_allowed_or_denied_as_the_table_says(
    server: StigmerServer, served_methods: list[tuple[str, str]]
) -> None:
    methods = served_methods
    keys = {role: await _new_key(server, role) for role in Role}
    denied: dict[Role, list[str]] = {role: [] for role in Role}
    async with grpc.aio.insecure_channel(server.address) as channel:
        for path, kind in methods:
            for role, key in keys.items():
                code, details = await _call(
                    channel, path, kind, (("authorization", f"Bearer {key}"),)
                )
                assert code != grpc.StatusCode.UNAUTHENTICATED, (path, role, details)
                if code == grpc.StatusCode.PERMISSION_DENIED:
                    assert role.value in details, details
                    denied[role].append(path)
                # An allowed call reaches the method and is judged on its (empty) content.
                expected = role not in METHOD_ROLES[path]
                assert (code == grpc.StatusCode.PERMISSION_DENIED) == expected, (path, role, code)
    # The roles' shapes, spelled out: a viewer only reads, the runner writes only status.
    assert all(path.rsplit("/", 1)[1] in _READS for path in _allowed(methods, denied, Role.VIEWER))
    runner = {path.removeprefix("/") for path in _allowed(methods, denied, Role.RUNNER)}
    assert runner == {
        f"{_AGENTIC}.session.v1.SessionQueryController/get",
        f"{_AGENTIC}.session.v1.SessionCommandController/update",
        f"{_AGENTIC}.agentexecution.v1.AgentExecutionQueryController/get",
        f"{_AGENTIC}.agentexecution.v1.AgentExecutionCommandController/updateStatus",
        f"{_AGENTIC}.agentexecution.v1.AgentExecutionCommandController/streamPreviews",
        f"{_AGENTIC}.runner.v1.RunnerQueryController/getTurnContext",
    }
    assert not any("ApiKey" in path for path in _allowed(methods, denied, Role.MEMBER))
    assert any("ApiKey" in path for path in _allowed(methods, denied, Role.ADMIN))


_AGENTIC = "ai.stigmer.agentic"
_READS = {"get", "getByReference", "list", "listBySession", "subscribe"}


def _allowed(
    methods: list[tuple[str, str]], denied: dict[Role, list[str]], role: Role
) -> list[str]:
    return [path for path, _ in methods if path not in denied[role]]
