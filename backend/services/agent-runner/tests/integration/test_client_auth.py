"""The bearer-token interceptor authenticates unary and streaming calls to a real server."""

from __future__ import annotations

import grpc
import pytest

from agent_runner.clients import open_channel
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from stigmer_testing._server import StigmerServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("key", "expected"),
    [("right", grpc.StatusCode.NOT_FOUND), ("wrong", grpc.StatusCode.UNAUTHENTICATED)],
)
async def test_unary_and_streaming_calls_carry_the_key(
    stigmer_server: StigmerServer, key: str, expected: grpc.StatusCode
) -> None:
    api_key = stigmer_server.api_key if key == "right" else "not-the-key"
    channel = open_channel(stigmer_server.address, api_key)
    try:
        stub = AgentExecutionQueryControllerStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await stub.get(AgentExecutionId(value="aex-missing"), timeout=10)
        assert unary.value.code() == expected
        stream = stub.subscribe(
            SubscribeAgentExecutionRequest(execution_id="aex-missing"), timeout=10
        )
        with pytest.raises(grpc.aio.AioRpcError) as streaming:
            await stream.read()
        assert streaming.value.code() == expected
    finally:
        await channel.close()
