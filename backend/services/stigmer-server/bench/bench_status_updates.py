"""How fast the server's status path is: merge + store + publish per `updateStatus`.

Runs the real StatusWriter against a SQLite file and against a throwaway PostgreSQL 15
cluster (when its binaries are installed), one writer appending streamed text the way the
runner does, with and without a watcher. Writes docs/benchmarks/stigmer-server-status-updates.md.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceOwnerScope
from stigmer_server import resources as kinds
from stigmer_server.execution import ExecutionHub, StatusWriter
from stigmer_server.ids import IdFactory
from stigmer_server.storage import Store
from stigmer_testing._paths import repo_root
from stigmer_testing._postgres import start_postgres

UPDATES = 500
CHUNK = "lorem ipsum dolor sit amet " * 2  # ~54 characters, a typical streamed chunk


async def _one_run(url: str, watched: bool) -> list[float]:
    store = await Store.open(url)
    ids = IdFactory()
    execution = AgentExecution(api_version="agentic.stigmer.ai/v1", kind="AgentExecution")
    execution.metadata.id = ids.new("aex")
    execution.metadata.slug = execution.metadata.id
    execution.metadata.owner_scope = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_PLATFORM
    execution.metadata.created_at.GetCurrentTime()
    execution.metadata.updated_at.GetCurrentTime()
    execution.spec.session_id = ids.new("ses")
    execution.status.phase = ExecutionPhase.EXECUTION_IN_PROGRESS
    execution.status.sequence = 1
    async with store.transaction() as tx:
        await tx.insert(kinds.AGENT_EXECUTION, execution)
    hub = ExecutionHub()
    writer = StatusWriter(store, hub)
    latencies: list[float] = []
    with hub.watch(execution.metadata.id) as events:
        for _ in range(UPDATES):
            delta = AgentExecutionStatus(
                messages=[AgentMessage(id="m", content=CHUNK, append=True)]
            )
            start = time.perf_counter()
            await writer.apply(execution.metadata.id, delta)
            latencies.append(time.perf_counter() - start)
            if watched:
                events.get_nowait()
    await store.close()
    return latencies


def _row(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95)] * 1000
    rate = len(ordered) / sum(ordered)
    return f"| {name} | {UPDATES} | {p50:.2f} | {p95:.2f} | {rate:.0f} |"


async def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        rows.append(_row("SQLite file (WAL)", await _one_run(url, watched=True)))
    try:
        async with start_postgres() as cluster:
            import asyncpg  # type: ignore[import-untyped]

            admin = await asyncpg.connect(
                host=cluster.host, port=cluster.port, user=cluster.user, database="postgres"
            )
            await admin.execute('CREATE DATABASE "bench"')
            await admin.close()
            rows.append(
                _row(
                    "PostgreSQL 15 (local, fsync off)",
                    await _one_run(cluster.url("bench"), watched=True),
                )
            )
    except BaseException as error:  # the bench still reports SQLite without PostgreSQL
        rows.append(f"| PostgreSQL 15 | not run: {type(error).__name__} | | | |")
    text = "\n".join(
        [
            "# stigmer-server: status update path",
            "",
            "`StatusWriter.apply` (merge with `stigmer_status`, one transaction with a row lock,",
            "publish to a watcher) for streamed-text deltas (`append`, ~54 characters each) on one",
            "execution, sequentially, as one runner sends them. gRPC overhead is not included.",
            f"Run by `make bench` (Python {platform.python_version()}, {platform.machine()}, "
            "a shared host: read the figures as orders of magnitude).",
            "",
            "| Database | updates | p50 ms | p95 ms | updates/s |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    out = repo_root() / "docs" / "benchmarks" / "stigmer-server-status-updates.md"
    out.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    asyncio.run(main())
