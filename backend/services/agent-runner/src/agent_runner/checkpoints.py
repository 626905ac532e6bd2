"""The LangGraph checkpointer: a SQLite file in the data directory, or PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver


@asynccontextmanager
async def open_checkpointer(
    *, data_dir: Path, db_url: str
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Open for the life of the worker; several runners share one only through PostgreSQL."""
    if db_url.startswith("postgresql://"):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(db_url) as saver:
            await saver.setup()
            yield saver
        return
    if db_url:
        raise ValueError(
            "STIGMER_CHECKPOINT_DB_URL: expected a postgresql:// URL, or nothing for SQLite"
        )
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    async with AsyncSqliteSaver.from_conn_string(str(data_dir / "checkpoints.sqlite")) as saver:
        await saver.setup()
        yield saver
