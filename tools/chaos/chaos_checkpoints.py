"""Watching the runner's checkpoint database (SQLite, read-only) to kill the runner at one
exact moment: a step's task has saved its result (a pending write) and the graph has not
yet saved the next checkpoint.

That moment lasts milliseconds, less than a poll and a signal take, so the runner is first
stopped (SIGSTOP), the database read again, and the runner killed only if the moment holds;
otherwise it continues (SIGCONT) and the next step is tried."""

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
    "SELECT 1 FROM writes WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ? LIMIT 1"
)


def _pending(connection: sqlite3.Connection, execution_id: str) -> str | None:
    """The execution's latest root checkpoint when a task has saved writes against it."""
    latest = connection.execute(_LATEST, (f"%{execution_id}%",)).fetchone()
    if latest is None or connection.execute(_WRITTEN, (latest[0], latest[1])).fetchone() is None:
        return None
    return str(latest[1])


def kill_between_result_and_checkpoint(
    database: Path,
    execution_id: str,
    pid: int,
    *,
    armed: Callable[[], bool],
    within: float,
) -> tuple[str | None, int]:
    """SIGKILL `pid` at the moment (once `armed()`); returns the checkpoint it was killed at
    (None if the moment never held within `within` seconds) and how many stops missed it."""
    deadline = time.monotonic() + within
    missed = 0
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
    try:
        while time.monotonic() < deadline:
            try:
                seen = _pending(connection, execution_id) if armed() else None
                if seen is None:
                    continue
                os.kill(pid, signal.SIGSTOP)
                if _pending(connection, execution_id) == seen:
                    os.kill(pid, signal.SIGKILL)
                    return seen, missed
            except sqlite3.OperationalError:  # locked for a moment, or not created yet
                continue
            os.kill(pid, signal.SIGCONT)
            missed += 1
    finally:
        connection.close()
    return None, missed
