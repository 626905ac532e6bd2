"""The database schema and its migrations, applied in order at start-up.

Resources are stored whole as protobuf bytes; the columns beside them exist only to find
and order rows (by id, kind, owner scope and slug, session, phase) without decoding.

An execution's status changes many times a second while its turn streams, so its row holds
a snapshot and each change since goes to `execution_log` as one row: a write costs the
change, not the whole status. `storage/_executions.py` folds the log into the snapshot once
it has grown past the snapshot's size. The execution-only columns `attempt`,
`attempt_sequence`, `log_bytes` and `released` serve that write path and the session's
turn order (docs/architecture/status-model.md, docs/architecture/workflow.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.schema import SchemaItem

logger = logging.getLogger(__name__)

metadata = MetaData()


def _resource_columns() -> list[SchemaItem]:
    """The columns of schema version 1."""
    return [
        Column("id", String(64), primary_key=True),
        Column("kind", String(32), nullable=False),
        Column("owner_scope", Integer, nullable=False),
        Column("org", String(128), nullable=False),
        Column("slug", String(128), nullable=False),
        Column("session_id", String(64), nullable=True),
        Column("phase", Integer, nullable=True),
        Column("version", BigInteger, nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("data", LargeBinary, nullable=False),
    ]


def _resource_constraints() -> list[SchemaItem]:
    return [
        UniqueConstraint("kind", "owner_scope", "org", "slug", name="uq_resources_scope_slug"),
        Index("ix_resources_kind_org_id", "kind", "org", "id"),
        Index("ix_resources_session_id", "session_id", "id"),
    ]


# Added by migration 2, for executions only (other rows keep the defaults).
_V2_COLUMNS: Final = (
    # The newest attempt allowed to write the status (a fencing token; 0 = none yet).
    ("attempt", "BIGINT", "0"),
    # That attempt's last applied update number, so a retried update is applied once.
    ("attempt_sequence", "BIGINT", "0"),
    # Bytes in execution_log since the snapshot in `data` was written.
    ("log_bytes", "BIGINT", "0"),
    # False while the turn holds its session (from create until its workflow has ended).
    ("released", "BOOLEAN", "TRUE"),
)

resources = Table(
    "resources",
    metadata,
    *_resource_columns(),
    Column("attempt", BigInteger, nullable=False, server_default=text("0")),
    Column("attempt_sequence", BigInteger, nullable=False, server_default=text("0")),
    Column("log_bytes", BigInteger, nullable=False, server_default=text("0")),
    Column("released", Boolean, nullable=False, server_default=true()),
    *_resource_constraints(),
)

execution_log = Table(
    "execution_log",
    metadata,
    Column("execution_id", String(64), primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Migration 3: API keys. Only a salted hash of each key's secret is kept (iam/_tokens.py).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org", String(128), nullable=False),
    Column("name", String(256), nullable=False),
    Column("role", Integer, nullable=False),
    Column("salt", LargeBinary, nullable=False),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_org_id", "org", "id"),
)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
)

_FINAL_PHASES: Final = (3, 4, 5)  # ExecutionPhase COMPLETED, FAILED, CANCELLED


def _v1_create_resources(connection: Connection) -> None:
    Table(
        "resources",
        MetaData(),
        *_resource_columns(),
        *_resource_constraints(),
    ).create(connection)


def _v2_execution_log(connection: Connection) -> None:
    for name, sql_type, default in _V2_COLUMNS:
        connection.execute(
            text(f"ALTER TABLE resources ADD COLUMN {name} {sql_type} NOT NULL DEFAULT {default}")
        )
    # A turn still open when the server was upgraded holds its session until it ends.
    connection.execute(
        resources.update()
        .where(resources.c.kind == "AgentExecution", resources.c.phase.not_in(_FINAL_PHASES))
        .values(released=False)
    )
    execution_log.create(connection)


def _v3_api_keys(connection: Connection) -> None:
    api_keys.create(connection)


# Append new steps; never edit a released one. Index i brings the schema to version i + 1.
MIGRATIONS: Final[tuple[Callable[[Connection], None], ...]] = (
    _v1_create_resources,
    _v2_execution_log,
    _v3_api_keys,
)


def _migrate(connection: Connection) -> int:
    schema_version.create(connection, checkfirst=True)
    current = connection.execute(select(schema_version.c.version)).scalar() or 0
    for index in range(current, len(MIGRATIONS)):
        logger.info("applying schema migration %d", index + 1)
        MIGRATIONS[index](connection)
    if current < len(MIGRATIONS):
        connection.execute(schema_version.delete())
        connection.execute(schema_version.insert().values(version=len(MIGRATIONS)))
    return len(MIGRATIONS)


async def migrate(engine: AsyncEngine) -> int:
    """Create or upgrade the schema in one transaction; returns the schema version."""
    async with engine.begin() as connection:
        return await connection.run_sync(_migrate)
