"""Storage of resources through SQLAlchemy (async): SQLite by default, PostgreSQL by URL."""

from stigmer_server.storage._executions import (
    COMPACT_FLOOR_BYTES,
    ExecutionHead,
    ExecutionRows,
    needs_compaction,
)
from stigmer_server.storage._keys import KeyRow, KeyRows
from stigmer_server.storage._schema import MIGRATIONS, migrate
from stigmer_server.storage._sealing import Sealer, SealingError
from stigmer_server.storage._store import Page, Store, Transaction, typed

__all__ = [
    "COMPACT_FLOOR_BYTES",
    "MIGRATIONS",
    "ExecutionHead",
    "ExecutionRows",
    "KeyRow",
    "KeyRows",
    "Page",
    "Sealer",
    "SealingError",
    "Store",
    "Transaction",
    "migrate",
    "needs_compaction",
    "typed",
]
