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
    assert [p.preview.texts[0].text for p in received] == ["a", "b", "c"]
    assert {(p.execution_id, p.attempt) for p in received} == {("aex-1", 1002)}
    assert stream.sent == 3


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
