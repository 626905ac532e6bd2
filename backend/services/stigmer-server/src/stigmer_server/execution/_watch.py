"""`subscribe`: the whole execution once, then every change in order, until a final phase.

A watcher registers with the hub before it reads, so no change between the read and the
registration is lost. Changes arrive from the hub numbered; when one is missing (it was
written on another replica and only a hint arrived, or the listener reconnected) the watcher
reads what it lacks from the execution log, and falls back to a fresh snapshot when the log
was already folded into the snapshot. Previews pass straight through: they are not changes
and do not move the watcher's sequence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent
from stigmer_server.api._crud import ResourceService
from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.storage import Store
from stigmer_status import is_final


class Watch:
    def __init__(self, executions: ResourceService, store: Store, hub: ExecutionHub) -> None:
        self._executions = executions
        self._store = store
        self._hub = hub

    async def events(self, execution_id: str, after: int) -> AsyncIterator[AgentExecutionEvent]:
        with self._hub.watch(execution_id) as queue:
            last = after
            caught_up = False
            # A watcher resuming after a sequence gets the logged changes when they are
            # still there (small); a new watcher gets the whole execution.
            async for event in self._catch_up(execution_id, last, snapshot=after == 0):
                yield event
                last, caught_up = event.sequence, True
                if _ends(event):
                    return
            if not caught_up and await self._ended(execution_id):
                return
            while True:
                event = await queue.get()
                kind = event.WhichOneof("payload")
                if kind == "preview":
                    yield event
                    continue
                if kind == "delta" and event.sequence <= last:
                    continue
                if kind == "delta" and event.sequence == last + 1:
                    yield event
                    last = event.sequence
                    if _ends(event):
                        return
                    continue
                async for caught in self._catch_up(execution_id, last, snapshot=False):
                    yield caught
                    last = caught.sequence
                    if _ends(caught):
                        return

    async def _catch_up(
        self, execution_id: str, last: int, *, snapshot: bool
    ) -> AsyncIterator[AgentExecutionEvent]:
        """What the watcher lacks after `last`: logged changes, else a snapshot."""
        if not snapshot:
            async with self._store.transaction() as tx:
                changes = await tx.executions.log_after(execution_id, last)
            if changes and changes[0].sequence == last + 1:
                for change in changes:
                    yield AgentExecutionEvent(sequence=change.sequence, delta=change)
                return
        execution: Any = await self._executions.get(execution_id)
        if execution.status.sequence > last:
            yield AgentExecutionEvent(sequence=execution.status.sequence, snapshot=execution)

    async def _ended(self, execution_id: str) -> bool:
        execution: Any = await self._executions.get(execution_id)
        return is_final(execution.status.phase)


def _ends(event: AgentExecutionEvent) -> bool:
    kind = event.WhichOneof("payload")
    if kind == "snapshot":
        return is_final(event.snapshot.status.phase)
    return kind == "delta" and event.delta.HasField("phase") and is_final(event.delta.phase)
