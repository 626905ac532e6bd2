"""The Bazel-generated stubs drive a real gRPC server and client over loopback (port 0)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from ai.stigmer.agentic.agentexecution.v1 import (
    api_pb2,
    enum_pb2,
    io_pb2,
    query_pb2_grpc,
    spec_pb2,
    status_pb2,
)
from ai.stigmer.commons.apiresource import io_pb2 as common_io_pb2
from ai.stigmer.commons.apiresource import reference_pb2

# Opens a loopback socket: marked so the no-network rule of unit tests lets it.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


Context = grpc.aio.ServicerContext[Any, Any]


class Executions(query_pb2_grpc.AgentExecutionQueryControllerServicer):
    """Serves one stored execution and streams its status changes; the rest is not needed."""

    def __init__(self, execution: api_pb2.AgentExecution) -> None:
        self.execution = execution

    async def getByReference(
        self, request: reference_pb2.ApiResourceReference, context: Context
    ) -> api_pb2.AgentExecution:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not served by this test")

    async def list(
        self, request: common_io_pb2.ListRequest, context: Context
    ) -> io_pb2.AgentExecutionList:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not served by this test")

    async def listBySession(
        self, request: io_pb2.ListAgentExecutionsBySessionRequest, context: Context
    ) -> io_pb2.AgentExecutionList:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not served by this test")

    async def get(
        self, request: io_pb2.AgentExecutionId, context: Context
    ) -> api_pb2.AgentExecution:
        if request.value != self.execution.metadata.id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"execution {request.value!r} not found")
        return self.execution

    async def subscribe(
        self,
        request: io_pb2.SubscribeAgentExecutionRequest,
        context: Context,
    ) -> AsyncIterator[io_pb2.AgentExecutionEvent]:
        yield io_pb2.AgentExecutionEvent(sequence=1, snapshot=self.execution)
        for sequence in range(max(2, request.after_sequence + 1), 4):
            phase = (
                enum_pb2.EXECUTION_COMPLETED if sequence == 3 else enum_pb2.EXECUTION_IN_PROGRESS
            )
            delta = status_pb2.AgentExecutionStatus(phase=phase, sequence=sequence)
            yield io_pb2.AgentExecutionEvent(sequence=sequence, delta=delta)


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    execution = api_pb2.AgentExecution(
        api_version="agentic.stigmer.ai/v1",
        kind="AgentExecution",
        spec=spec_pb2.AgentExecutionSpec(session_id="ses_1", message="hello"),
    )
    execution.metadata.id = "aex_1"
    server = grpc.aio.server()
    servicer = Executions(execution)
    query_pb2_grpc.add_AgentExecutionQueryControllerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    assert port > 0
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as client:
            yield client
    finally:
        await server.stop(grace=None)


async def test_get_returns_the_stored_message_through_the_generated_stubs(
    channel: grpc.aio.Channel,
) -> None:
    stub = query_pb2_grpc.AgentExecutionQueryControllerStub(channel)
    found = await stub.get(io_pb2.AgentExecutionId(value="aex_1"))
    assert found.metadata.id == "aex_1"
    assert found.spec.message == "hello"
    assert found.kind == "AgentExecution"


async def test_an_unknown_id_is_not_found(channel: grpc.aio.Channel) -> None:
    stub = query_pb2_grpc.AgentExecutionQueryControllerStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.get(io_pb2.AgentExecutionId(value="aex_missing"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "aex_missing" in (raised.value.details() or "")


async def test_subscribe_streams_a_snapshot_then_deltas_to_a_final_phase(
    channel: grpc.aio.Channel,
) -> None:
    stub = query_pb2_grpc.AgentExecutionQueryControllerStub(channel)
    events = [
        event
        async for event in stub.subscribe(
            io_pb2.SubscribeAgentExecutionRequest(execution_id="aex_1")
        )
    ]
    assert [event.WhichOneof("payload") for event in events] == ["snapshot", "delta", "delta"]
    assert [event.sequence for event in events] == [1, 2, 3]
    assert events[-1].delta.phase == enum_pb2.EXECUTION_COMPLETED
