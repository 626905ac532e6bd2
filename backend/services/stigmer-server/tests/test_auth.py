"""Every RPC, found through server reflection, refuses a missing and a wrong API key.

The list of methods comes from the running server, so an RPC added later is covered
without touching this test.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # type: ignore[import-untyped]
    ProtoReflectionDescriptorDatabase,
)

if TYPE_CHECKING:
    from stigmer_testing._server import StigmerServer

pytestmark = pytest.mark.integration

_OPEN = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")


def _methods(address: str) -> list[tuple[str, str]]:
    """(full method path, call kind) of every RPC the server lists."""
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = DescriptorPool(database)
        found = []
        for service_name in database.get_services():
            if service_name in _OPEN:
                continue
            service = pool.FindServiceByName(service_name)
            for method in service.methods:
                kind = (
                    "client_streaming"
                    if method.client_streaming
                    else "server_streaming"
                    if method.server_streaming
                    else "unary"
                )
                found.append((f"/{service.full_name}/{method.name}", kind))
        return found


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


async def test_every_rpc_rejects_missing_and_wrong_keys(server: StigmerServer) -> None:
    methods = await asyncio.to_thread(_methods, server.address)
    # 6 kinds x 6 RPCs, plus 5 execution RPCs, plus the ApiKey API's 4.
    assert len(methods) == 45, methods
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
