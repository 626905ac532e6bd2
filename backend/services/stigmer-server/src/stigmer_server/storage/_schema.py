"""The database schema and its migrations, applied in order at start-up.

Resources are stored whole as protobuf bytes; the columns beside them exist only to find
and order rows (by id, kind, owner scope and slug, session, phase) without decoding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from sqlalchemy import (
    BigInteger,
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
)
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

metadata = MetaData()

resources = Table(
    "resources",
    metadata,
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
    UniqueConstraint("kind", "owner_scope", "org", "slug", name="uq_resources_scope_slug"),
    Index("ix_resources_kind_org_id", "kind", "org", "id"),
    Index("ix_resources_session_id", "session_id", "id"),
)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
)


def _v1_create_resources(connection: Connection) -> None:
    resources.create(connection)


# Append new steps; never edit a released one. Index i brings the schema to version i + 1.
MIGRATIONS: Final[tuple[Callable[[Connection], None], ...]] = (_v1_create_resources,)


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
