"""An execution's rows: its head (the columns of its resource row), its change log, compaction.

The resource row's `data` holds a snapshot of the execution; each status change since is one
`execution_log` row keyed by its sequence. Reading an execution applies the log to the
snapshot (`materialize`). Writing a change touches only the head columns and appends one log
row, so a long turn costs the server bytes in proportion to its changes. When the log has
grown past twice the snapshot (and a floor), it is folded into a new snapshot: the snapshots
written over a turn then add at most about half the final size again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from stigmer_server.storage._schema import execution_log, resources
from stigmer_status import apply_delta

KIND: Final = "AgentExecution"
# Below this many log bytes an execution is never compacted: reading a few dozen small
# changes costs less than rewriting the snapshot for them.
COMPACT_FLOOR_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class ExecutionHead:
    """What the write path needs of an execution, read without decoding its snapshot."""

    session_id: str
    phase: ExecutionPhase.ValueType
    sequence: int
    attempt: int
    attempt_sequence: int
    log_bytes: int
    snapshot_bytes: int
    released: bool


def needs_compaction(log_bytes: int, snapshot_bytes: int) -> bool:
    return log_bytes > max(COMPACT_FLOOR_BYTES, 2 * snapshot_bytes)


class ExecutionRows:
    """Execution-specific reads and writes inside one transaction."""

    def __init__(self, connection: AsyncConnection, written: list[int]) -> None:
        self._c = connection
        # The store's counter of payload bytes written (shared, one element).
        self._written = written

    async def head(self, execution_id: str, *, for_update: bool = False) -> ExecutionHead | None:
        c = resources.c
        query = select(
            c.session_id,
            c.phase,
            c.sequence,
            c.attempt,
            c.attempt_sequence,
            c.log_bytes,
            func.length(c.data),
            c.released,
        ).where(c.id == execution_id, c.kind == KIND)
        if for_update:
            query = query.with_for_update()
        row = (await self._c.execute(query)).first()
        if row is None:
            return None
        return ExecutionHead(
            session_id=row[0] or "",
            phase=ExecutionPhase.ValueType(int(row[1] or 0)),
            sequence=int(row[2]),
            attempt=int(row[3]),
            attempt_sequence=int(row[4]),
            log_bytes=int(row[5]),
            snapshot_bytes=int(row[6]),
            released=bool(row[7]),
        )

    async def append(
        self,
        execution_id: str,
        head: ExecutionHead,
        change: AgentExecutionStatus,
        *,
        attempt: int,
        attempt_sequence: int,
    ) -> int:
        """Store `change` (numbered already) as the next log row and advance the head.

        Returns the new log size, so the caller can decide to compact.
        """
        data = change.SerializeToString(deterministic=True)
        await self._c.execute(
            execution_log.insert().values(
                execution_id=execution_id, sequence=change.sequence, data=data
            )
        )
        values: dict[str, object] = {
            "sequence": change.sequence,
            "attempt": attempt,
            "attempt_sequence": attempt_sequence,
            "log_bytes": head.log_bytes + len(data),
            "updated_at": datetime.now(UTC),
        }
        if change.HasField("phase"):
            values["phase"] = int(change.phase)
        await self._c.execute(
            resources.update()
            .where(resources.c.id == execution_id, resources.c.kind == KIND)
            .values(**values)
        )
        self._written[0] += len(data)
        return head.log_bytes + len(data)

    async def log_after(self, execution_id: str, after: int) -> list[AgentExecutionStatus]:
        """The logged changes numbered above `after`, in order (compacted ones are gone)."""
        query = (
            select(execution_log.c.data)
            .where(execution_log.c.execution_id == execution_id, execution_log.c.sequence > after)
            .order_by(execution_log.c.sequence)
        )
        return [_change(data) for data in (await self._c.execute(query)).scalars()]

    async def materialize(self, executions: Sequence[AgentExecution]) -> None:
        """Apply each execution's log to its snapshot, in place."""
        by_id = {execution.metadata.id: execution for execution in executions}
        if not by_id:
            return
        query = (
            select(execution_log.c.execution_id, execution_log.c.sequence, execution_log.c.data)
            .where(execution_log.c.execution_id.in_(list(by_id)))
            .order_by(execution_log.c.execution_id, execution_log.c.sequence)
        )
        for execution_id, sequence, data in (await self._c.execute(query)).all():
            status = by_id[execution_id].status
            if sequence > status.sequence:
                apply_delta(status, _change(data))
                status.sequence = sequence

    async def forget_log(self, execution_id: str, through: int) -> None:
        """Drop log rows a newly written snapshot already holds."""
        await self._c.execute(
            execution_log.delete().where(
                execution_log.c.execution_id == execution_id,
                execution_log.c.sequence <= through,
            )
        )

    async def set_released(self, execution_id: str) -> None:
        await self._c.execute(
            resources.update()
            .where(resources.c.id == execution_id, resources.c.kind == KIND)
            .values(released=True)
        )

    async def unreleased(self, session_id: str, *, before: str | None = None) -> list[str]:
        """Ids of the session's executions that still hold it, oldest first."""
        c = resources.c
        query = select(c.id).where(
            c.kind == KIND, c.session_id == session_id, c.released.is_(False)
        )
        if before is not None:
            query = query.where(c.id < before)
        return list((await self._c.execute(query.order_by(c.id))).scalars())

    async def stale_unreleased(self, updated_before: datetime, limit: int) -> list[str]:
        """Executions holding their session that nothing changed since `updated_before`."""
        c = resources.c
        query = (
            select(c.id)
            .where(c.kind == KIND, c.released.is_(False), c.updated_at < updated_before)
            .order_by(c.id)
            .limit(limit)
        )
        return list((await self._c.execute(query)).scalars())


def _change(data: bytes) -> AgentExecutionStatus:
    change = AgentExecutionStatus()
    change.ParseFromString(data)
    return change
