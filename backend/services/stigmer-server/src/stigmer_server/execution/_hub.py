"""In-process fan-out of execution events to the `subscribe` streams watching them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent


class ExecutionHub:
    """Watchers register a queue per execution; the status writer publishes to them.

    Queues are unbounded so a slow watcher never makes the writer wait; a watcher that
    falls far behind still gets every event in order.
    """

    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Queue[AgentExecutionEvent]]] = {}

    @contextlib.contextmanager
    def watch(self, execution_id: str) -> Iterator[asyncio.Queue[AgentExecutionEvent]]:
        queue: asyncio.Queue[AgentExecutionEvent] = asyncio.Queue()
        self._watchers.setdefault(execution_id, set()).add(queue)
        try:
            yield queue
        finally:
            watchers = self._watchers.get(execution_id)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self._watchers[execution_id]

    def publish(self, execution_id: str, event: AgentExecutionEvent) -> None:
        for queue in self._watchers.get(execution_id, ()):
            queue.put_nowait(event)

    def watcher_count(self, execution_id: str) -> int:
        return len(self._watchers.get(execution_id, ()))
