"""The preview stream: previews go out on one client stream, a broken stream is reopened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agent_runner.status import PreviewStream
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionPreview,
    AgentExecutionPreviewResult,
    StatusPreview,
    TextPreview,
)


class Server:
    """streamPreviews in memory: records each stream's previews; can break a stream."""

    def __init__(self) -> None:
        self.streams: list[list[AgentExecutionPreview]] = []
        self.break_after: int | None = None

    async def __call__(
        self, previews: AsyncIterator[AgentExecutionPreview]
    ) -> AgentExecutionPreviewResult:
        received: list[AgentExecutionPreview] = []
        self.streams.append(received)
        async for preview in previews:
            received.append(preview)
            if self.break_after is not None and len(received) >= self.break_after:
                self.break_after = None
                raise ConnectionError("stream reset")
        return AgentExecutionPreviewResult(published=len(received))


def _preview(text: str) -> StatusPreview:
    return StatusPreview(texts=[TextPreview(message_id="m", offset=0, text=text)])


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_previews_share_one_stream_and_carry_the_attempt() -> None:
    server = Server()
    stream = PreviewStream(server, execution_id="aex-1", attempt=1002)
    for text in ("a", "b", "c"):
        stream.send(_preview(text))
    await stream.close()
    (received,) = server.streams
    assert [t.text for p in received for t in p.preview.texts] == ["a", "b", "c"]
    assert {(p.execution_id, p.attempt) for p in received} == {("aex-1", 1002)}
    assert stream.sent == 3


async def test_previews_queued_behind_a_write_go_out_as_one_message() -> None:
    server = Server()
    stream = PreviewStream(server, execution_id="aex-1", attempt=1)
    pieces = [("m1", 0, "Hel"), ("m1", 3, "lo"), ("m1", 9, "far"), ("m2", 0, "x")]
    for message_id, offset, text in pieces:
        stream.send(
            StatusPreview(texts=[TextPreview(message_id=message_id, offset=offset, text=text)])
        )
    await stream.close()
    (received,) = server.streams
    (merged,) = received
    assert [(t.message_id, t.offset, t.text) for t in merged.preview.texts] == [
        ("m1", 0, "Hello"),  # contiguous pieces of one message joined
        ("m1", 9, "far"),  # a gap: kept apart
        ("m2", 0, "x"),
    ]


async def test_a_broken_stream_is_reopened_by_the_next_preview() -> None:
    server = Server()
    server.break_after = 1
    stream = PreviewStream(server, execution_id="aex-1", attempt=1001)
    stream.send(_preview("a"))
    await _settle()
    stream.send(_preview("b"))
    await stream.close()
    assert [[p.preview.texts[0].text for p in s] for s in server.streams] == [["a"], ["b"]]


async def test_closing_a_stream_never_opened_does_nothing() -> None:
    server = Server()
    await PreviewStream(server, execution_id="aex-1", attempt=1001).close()
    assert server.streams == []
