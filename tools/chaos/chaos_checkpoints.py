"""Watching the runner's checkpoint database (SQLite, read-only) to kill it at one exact
moment: a step's task has saved its result (a pending write) but the graph has not yet
saved the next checkpoint."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

_LATEST = (
    "SELECT thread_id, checkpoint_id FROM checkpoints WHERE checkpoint_ns = '' "
    "AND CAST(metadata AS TEXT) LIKE ? ORDER BY checkpoint_id DESC LIMIT 1"
)
_WRITTEN = (
    "SELECT 1 FROM writes WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ? "
    "AND channel = ? LIMIT 1"
)


def kill_between_result_and_checkpoint(
    database: Path,
    execution_id: str,
    pid: int,
    *,
    channel: str,
    armed: Callable[[], bool],
    within: float,
) -> str | None:
    """SIGKILL `pid` as soon as, once `armed()`, the execution's latest root checkpoint holds
    a pending write to `channel` (polled without pause); returns that checkpoint's id, or
    None if the moment never came within `within` seconds."""
    deadline = time.monotonic() + within
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
    try:
        while time.monotonic() < deadline:
            try:
                latest = connection.execute(_LATEST, (f"%{execution_id}%",)).fetchone()
                found = (
                    latest is not None
                    and connection.execute(_WRITTEN, (latest[0], latest[1], channel)).fetchone()
                )
            except sqlite3.OperationalError:  # locked for a moment, or not created yet
                continue
            if found and armed():
                os.kill(pid, signal.SIGKILL)
                return str(latest[1])
    finally:
        connection.close()
    return None
