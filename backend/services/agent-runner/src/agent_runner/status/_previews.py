"""Previews: streamed text sent to the server at once, ahead of its batched status update.

Watchers see tokens within milliseconds while the status is still written in batches. One
client stream (`streamPreviews`) carries the previews of an attempt; it opens with the first
preview and closes with the turn. Previews are best effort: while the stream is down they
are dropped (the batched update carries the same text a moment later) and the next preview
opens a new stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionPreview,
    AgentExecutionPreviewResult,
    StatusPreview,
)

logger = logging.getLogger(__name__)

PreviewCall = Callable[
    [AsyncIterator[AgentExecutionPreview]], Awaitable[AgentExecutionPreviewResult]
]
_CLOSE_TIMEOUT = 2.0


class PreviewStream:
    def __init__(self, call: PreviewCall, *, execution_id: str, attempt: int) -> None:
        self._call = call
        self._execution_id = execution_id
        self._attempt = attempt
        self._queue: asyncio.Queue[AgentExecutionPreview | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def send(self, preview: StatusPreview) -> None:
        if self._task is None or self._task.done():
            self._open()
        assert self._queue is not None
        self._queue.put_nowait(
            AgentExecutionPreview(
                execution_id=self._execution_id, attempt=self._attempt, preview=preview
            )
        )
        self.sent += 1

    async def close(self) -> None:
        task, queue = self._task, self._queue
        self._task = self._queue = None
        if task is None or queue is None:
            return
        queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=_CLOSE_TIMEOUT)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _open(self) -> None:
        queue: asyncio.Queue[AgentExecutionPreview | None] = asyncio.Queue()
        self._queue = queue
        self._task = asyncio.create_task(self._run(queue), name=f"previews-{self._execution_id}")

    async def _run(self, queue: asyncio.Queue[AgentExecutionPreview | None]) -> None:
        async def requests() -> AsyncIterator[AgentExecutionPreview]:
            while (item := await queue.get()) is not None:
                # What queued up while the last write was on its way goes out as one message:
                # under load a turn sends fewer, larger previews instead of falling behind.
                closing = False
                while not queue.empty():
                    more = queue.get_nowait()
                    if more is None:
                        closing = True
                        break
                    merge_preview(item.preview, more.preview)
                yield item
                if closing:
                    return

        try:
            result = await self._call(requests())
        except Exception as error:
            # Not worth more than a debug line: the batched update carries the same text.
            logger.debug("execution %s: preview stream ended: %s", self._execution_id, error)
            return
        if result.dropped:
            logger.debug(
                "execution %s: %d previews dropped by the server",
                self._execution_id,
                result.dropped,
            )


def merge_preview(into: StatusPreview, more: StatusPreview) -> None:
    """Append `more`'s texts to `into`, joining a piece that continues the last one."""
    for text in more.texts:
        last = into.texts[-1] if into.texts else None
        if (
            last is not None
            and (last.message_id, last.sub_agent_id) == (text.message_id, text.sub_agent_id)
            and last.offset + len(last.text) == text.offset
        ):
            last.text += text.text
        else:
            into.texts.append(text)
