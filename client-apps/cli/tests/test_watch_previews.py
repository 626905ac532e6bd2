"""The CLI's watcher shows previews as they arrive: a real gRPC `subscribe` on loopback
streams a snapshot, previews and deltas; every frame the view gets is checked."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, MessageType
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    StatusPreview,
    SubscribeAgentExecutionRequest,
    TextPreview,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2 import DESCRIPTOR
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from stigmer_cli.live import Watcher

pytestmark = pytest.mark.integration


def _message(content: str, *, append: bool = False) -> AgentMessage:
    return AgentMessage(id="m", type=MessageType.MESSAGE_AI, content=content, append=append)


def _preview(offset: int, text: str) -> StatusPreview:
    return StatusPreview(texts=[TextPreview(message_id="m", offset=offset, text=text)])


EVENTS = [
    AgentExecutionEvent(sequence=1, snapshot=AgentExecution()),
    AgentExecutionEvent(sequence=1, preview=_preview(0, "Hel")),
    AgentExecutionEvent(sequence=1, preview=_preview(3, "lo w")),
    AgentExecutionEvent(sequence=2, delta=AgentExecutionStatus(messages=[_message("Hello")])),
    AgentExecutionEvent(sequence=2, preview=_preview(7, "orld")),
    AgentExecutionEvent(
        sequence=3,
        delta=AgentExecutionStatus(
            messages=[_message(" world", append=True)], phase=ExecutionPhase.EXECUTION_COMPLETED
        ),
    ),
]


def subscribe(
    request: SubscribeAgentExecutionRequest, context: grpc.ServicerContext
) -> Iterator[AgentExecutionEvent]:
    yield from EVENTS


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    # Only `subscribe`: the real service's other methods are not part of this test.
    service = DESCRIPTOR.services_by_name["AgentExecutionQueryController"].full_name
    handler = grpc.unary_stream_rpc_method_handler(
        subscribe,
        request_deserializer=SubscribeAgentExecutionRequest.FromString,
        response_serializer=AgentExecutionEvent.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {"subscribe": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
            yield opened
    finally:
        server.stop(grace=None)


def test_previews_reach_the_view_before_their_delta(channel: grpc.Channel) -> None:
    frames: list[str] = []

    def shown(execution: AgentExecution) -> None:
        frames.append("".join(m.content for m in execution.status.messages))

    final = Watcher(channel, "loopback", "aex-1", shown).follow()
    assert frames == ["", "Hel", "Hello w", "Hello w", "Hello world", "Hello world"]
    # What the watcher keeps is the stored copy: previews never leak into it.
    assert final.status.messages[0].content == "Hello world"
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED
