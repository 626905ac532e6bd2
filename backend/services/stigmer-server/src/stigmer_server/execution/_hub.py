"""Fan-out of execution events to the `subscribe` streams watching them, on every replica.

Watchers register a queue per execution. The status writer publishes each applied change
here after its commit, and announces it inside its transaction to the other server replicas
through the `Broadcaster` (PostgreSQL NOTIFY, delivered at commit; `_broadcast.py`), whose
listener hands it back to `receive` on each replica. An event too large for a notification
travels as a hint (its sequence only): the watcher reads the change from the execution log.

Previews (streamed text ahead of its persisted update) are published the same way but never
stored; a preview from an attempt older than the newest one seen is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Protocol

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent, StatusPreview
from stigmer_server.execution._notices import Notice, decode_notice, encode_notice
from stigmer_server.storage import Transaction
from stigmer_status import is_final

logger = logging.getLogger(__name__)

# Executions whose newest sequence and attempt are remembered (for previews); the oldest
# are forgotten first, and an execution is forgotten once it has ended.
_REMEMBERED = 10_000


class Broadcaster(Protocol):
    async def announce(self, tx: Transaction, payload: str) -> None:
        """Send `payload` to every replica when `tx` commits."""
        ...

    async def send(self, payload: str) -> None:
        """Send `payload` to every replica now (no transaction)."""
        ...


class ExecutionHub:
    """Queues are unbounded so a slow watcher never makes a writer wait; a watcher that
    falls far behind still gets every event in order."""

    def __init__(self, replica: str = "", broadcaster: Broadcaster | None = None) -> None:
        self._replica = replica
        self._broadcaster = broadcaster
        self._watchers: dict[str, set[asyncio.Queue[AgentExecutionEvent]]] = {}
        # execution id -> (newest sequence, newest attempt) seen on this replica
        self._heads: OrderedDict[str, tuple[int, int]] = OrderedDict()

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

    def watcher_count(self, execution_id: str) -> int:
        return len(self._watchers.get(execution_id, ()))

    async def announce(
        self, tx: Transaction, execution_id: str, event: AgentExecutionEvent, *, attempt: int
    ) -> None:
        """Tell the other replicas about a change, delivered when `tx` commits."""
        if self._broadcaster is not None:
            notice = Notice(self._replica, execution_id, attempt, event)
            await self._broadcaster.announce(tx, encode_notice(notice))

    def publish(self, execution_id: str, event: AgentExecutionEvent, *, attempt: int = 0) -> None:
        """Hand a committed change (or a hint) to this replica's watchers."""
        self._remember(execution_id, event, attempt)
        self._fan_out(execution_id, event)

    async def publish_preview(
        self, execution_id: str, attempt: int, preview: StatusPreview
    ) -> bool:
        """Publish streamed text to watchers here and on the other replicas.

        False when the preview was dropped: its attempt is older than the newest seen, or
        the execution has ended.
        """
        sequence, newest = self._heads.get(execution_id, (0, 0))
        if attempt < newest or sequence < 0:
            return False
        event = AgentExecutionEvent(sequence=sequence, preview=preview)
        self._fan_out(execution_id, event)
        if self._broadcaster is not None:
            notice = Notice(self._replica, execution_id, attempt, event)
            with contextlib.suppress(Exception):
                # Best effort: a preview lost on its way to another replica costs only latency.
                await self._broadcaster.send(encode_notice(notice))
        return True

    def receive(self, payload: str) -> None:
        """A notice from the broadcaster's listener (possibly this replica's own)."""
        try:
            notice = decode_notice(payload)
        except ValueError as error:
            logger.warning("ignored an undecodable execution notice: %s", error)
            return
        if notice.replica == self._replica:
            return
        event = notice.event
        if event.WhichOneof("payload") == "preview":
            sequence, newest = self._heads.get(notice.execution_id, (0, 0))
            if notice.attempt >= newest and sequence >= 0:
                self._fan_out(notice.execution_id, event)
            return
        self.publish(notice.execution_id, event, attempt=notice.attempt)

    def nudge_all(self) -> None:
        """Every watcher re-reads what it may have missed (the listener was reconnected)."""
        for execution_id in list(self._watchers):
            self._fan_out(execution_id, AgentExecutionEvent(sequence=0))

    def _fan_out(self, execution_id: str, event: AgentExecutionEvent) -> None:
        for queue in self._watchers.get(execution_id, ()):
            queue.put_nowait(event)

    def _remember(self, execution_id: str, event: AgentExecutionEvent, attempt: int) -> None:
        sequence, newest = self._heads.pop(execution_id, (0, 0))
        if sequence < 0:  # ended: previews stay dropped
            self._heads[execution_id] = (sequence, newest)
            return
        sequence = max(sequence, event.sequence)
        delta = event.delta if event.WhichOneof("payload") == "delta" else None
        if delta is not None and delta.HasField("phase") and is_final(delta.phase):
            sequence = -1
        self._heads[execution_id] = (sequence, max(newest, attempt))
        while len(self._heads) > _REMEMBERED:
            self._heads.popitem(last=False)
