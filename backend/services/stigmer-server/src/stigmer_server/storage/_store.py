"""Reading and writing resources in one transaction at a time (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from google.protobuf.message import Message
from sqlalchemy import Select, event, func, select, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from stigmer_server.errors import AlreadyExists
from stigmer_server.principal import visible_orgs
from stigmer_server.resources import AGENT_EXECUTION, SESSION, Kind
from stigmer_server.storage._executions import ExecutionRows
from stigmer_server.storage._keys import KeyRows
from stigmer_server.storage._schema import execution_log, migrate, resources
from stigmer_server.storage._sealing import Sealer, has_secret

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=Message)
_Q = TypeVar("_Q", bound=Select[Any])


@dataclass(frozen=True)
class Page:
    items: list[Message]
    next_page_token: str


class Transaction:
    """The operations of one database transaction; every method reads or writes whole rows."""

    def __init__(
        self, connection: AsyncConnection, written: list[int], sealer: Sealer | None = None
    ) -> None:
        self._c = connection
        self._written = written
        self._sealer = sealer
        self.executions = ExecutionRows(connection, written)
        self.keys = KeyRows(connection)

    async def get(
        self, kind: Kind, resource_id: str, *, for_update: bool = False
    ) -> Message | None:
        query = _visible(
            select(resources.c.data).where(
                resources.c.id == resource_id, resources.c.kind == kind.name
            )
        )
        if for_update:
            query = query.with_for_update()
        data = (await self._c.execute(query)).scalar()
        return None if data is None else (await self._materialized(kind, [data]))[0]

    async def get_by_slug(self, kind: Kind, scope: int, org: str, slug: str) -> Message | None:
        query = select(resources.c.data).where(
            resources.c.kind == kind.name,
            resources.c.owner_scope == scope,
            resources.c.org == org,
            resources.c.slug == slug,
        )
        data = (await self._c.execute(_visible(query))).scalar()
        return None if data is None else (await self._materialized(kind, [data]))[0]

    async def insert(self, kind: Kind, resource: Message) -> None:
        values = _columns(kind, resource, self._sealer)
        if isinstance(resource, AgentExecution):
            # A new turn holds its session until its workflow has ended.
            values["released"] = False
        await self._ensure_slug_free(kind, values, resource_id=None)
        try:
            await self._c.execute(resources.insert().values(**values))
        except IntegrityError as error:
            raise _slug_taken(kind, values) from error
        self._written[0] += len(values["data"])

    async def replace(self, kind: Kind, resource: Message, *, slug_changed: bool = True) -> None:
        """Overwrite a stored row; `slug_changed=False` skips the uniqueness read.

        An execution is written whole (with every logged change applied, as `get` returns
        it), so its log up to the status's sequence is dropped with the write.
        """
        values = _columns(kind, resource, self._sealer)
        resource_id = values.pop("id")
        values.pop("created_at")
        if slug_changed:
            await self._ensure_slug_free(kind, values, resource_id=resource_id)
        if isinstance(resource, AgentExecution):
            values["log_bytes"] = 0
            await self.executions.forget_log(resource_id, through=resource.status.sequence)
        try:
            result = await self._c.execute(
                resources.update()
                .where(resources.c.id == resource_id, resources.c.kind == kind.name)
                .values(**values)
            )
        except IntegrityError as error:
            raise _slug_taken(kind, values) from error
        if result.rowcount != 1:
            raise RuntimeError(f"{kind.name} {resource_id!r} vanished inside its transaction")
        self._written[0] += len(values["data"])

    async def notify(self, channel: str, payload: str) -> None:
        """A PostgreSQL notification, delivered to listeners when this transaction commits."""
        await self._c.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
        )

    async def compact_execution(self, execution_id: str) -> None:
        """Fold an execution's log into a new snapshot (the row must be locked already)."""
        execution = await self.get(AGENT_EXECUTION, execution_id)
        if execution is not None:
            await self.replace(AGENT_EXECUTION, execution, slug_changed=False)

    async def delete(self, kind: Kind, resource_id: str) -> None:
        await self._c.execute(
            resources.delete().where(resources.c.id == resource_id, resources.c.kind == kind.name)
        )
        if kind.message is AgentExecution:
            await self.executions.forget_log(resource_id, through=2**62)

    async def list_page(
        self, kind: Kind, *, org: str, page_size: int, after_id: str, session_id: str = ""
    ) -> Page:
        query = select(resources.c.id, resources.c.data).where(resources.c.kind == kind.name)
        if org:
            query = query.where(resources.c.org == org)
        if session_id:
            query = query.where(resources.c.session_id == session_id)
        if after_id:
            query = query.where(resources.c.id > after_id)
        query = _visible(query)
        rows = (await self._c.execute(query.order_by(resources.c.id).limit(page_size + 1))).all()
        more = len(rows) > page_size
        rows = rows[:page_size]
        token = rows[-1].id if more and rows else ""
        return Page(await self._materialized(kind, [row.data for row in rows]), token)

    async def sessions_holding(self, field: str, value: str, *, outside_org: str) -> list[str]:
        """Ids of the sessions of other orgs than `outside_org` whose `spec.<field>` is
        `value`: whether a sandbox or thread id is another org's.

        Not scoped to the caller: the check is the server's. It decodes every other org's
        session, which is affordable because a session's sandbox and thread are pinned
        once, not on every turn.
        """
        rows = (
            await self._c.execute(
                select(resources.c.id, resources.c.data).where(
                    resources.c.kind == SESSION.name, resources.c.org != outside_org
                )
            )
        ).all()
        held = []
        for row in rows:
            session = SESSION.new()
            session.ParseFromString(row.data)
            if getattr(cast(Any, session).spec, field) == value:
                held.append(str(row.id))
        return held

    async def reseal(self, kinds: tuple[Kind, ...]) -> int:
        """Re-write every resource whose secrets an older key sealed; returns how many.

        Run at start-up when the key file lists more than one key: after it, the older keys
        open nothing and may be removed from the file.
        """
        if self._sealer is None or len(self._sealer.keys) < 2:
            return 0
        count = 0
        for kind in kinds:
            rows = (
                await self._c.execute(
                    select(resources.c.id, resources.c.data).where(resources.c.kind == kind.name)
                )
            ).all()
            for row in rows:
                raw = kind.new()
                raw.ParseFromString(row.data)
                if self._sealer.stale(raw):
                    current = await self.get(kind, row.id, for_update=True)
                    if current is not None:
                        await self.replace(kind, current, slug_changed=False)
                        count += 1
        return count

    async def count(self) -> int:
        return int(
            (await self._c.execute(select(func.count()).select_from(resources))).scalar_one()
        )

    async def dump(self) -> list[tuple[str, bytes]]:
        """Every row's id and bytes, in id order: how tests prove a request wrote nothing.

        Execution log rows are listed as `<execution id>/<sequence>`.
        """
        rows = (
            await self._c.execute(select(resources.c.id, resources.c.data).order_by(resources.c.id))
        ).all()
        log = (
            await self._c.execute(
                select(execution_log.c.execution_id, execution_log.c.sequence, execution_log.c.data)
            )
        ).all()
        dumped = [(row.id, bytes(row.data)) for row in rows]
        dumped += [(f"{row[0]}/{row[1]}", bytes(row[2])) for row in log]
        return sorted(dumped)

    async def _materialized(self, kind: Kind, payloads: list[bytes]) -> list[Message]:
        decoded = [_decode(kind, data, self._sealer) for data in payloads]
        if kind.message is AgentExecution:
            await self.executions.materialize(cast(list[AgentExecution], decoded))
        return decoded

    async def _ensure_slug_free(
        self, kind: Kind, values: dict[str, Any], *, resource_id: str | None
    ) -> None:
        query = select(resources.c.id).where(
            resources.c.kind == kind.name,
            resources.c.owner_scope == values["owner_scope"],
            resources.c.org == values["org"],
            resources.c.slug == values["slug"],
        )
        existing = (await self._c.execute(query)).scalar()
        if existing is not None and existing != resource_id:
            raise _slug_taken(kind, values)


class Store:
    """The database: an engine, its schema, and transactions over it."""

    def __init__(self, engine: AsyncEngine, sealer: Sealer | None = None) -> None:
        self._engine = engine
        self._sealer = sealer
        # SQLite allows one writer; serialising our own transactions avoids SQLITE_BUSY
        # when two of them upgrade a read lock at once. PostgreSQL needs no such lock.
        self._serial = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        # Payload bytes (resource data and log rows) written since start: the benchmark's
        # measure of the write path, exported as a metric.
        self._written = [0]

    @property
    def bytes_written(self) -> int:
        return self._written[0]

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @classmethod
    async def open(cls, url: str, sealer: Sealer | None = None) -> Store:
        if url.startswith("sqlite"):
            # One connection: our transactions are serialised anyway, and opening more
            # connections under load costs more than it gives on SQLite.
            engine = create_async_engine(url, pool_size=1, max_overflow=0)
        else:
            engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        version = await migrate(engine)
        logger.info("database ready (%s, schema version %d)", engine.dialect.name, version)
        return cls(engine, sealer)

    async def close(self) -> None:
        await self._engine.dispose()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with contextlib.AsyncExitStack() as stack:
            if self._serial is not None:
                await stack.enter_async_context(self._serial)
            connection = await stack.enter_async_context(self._engine.begin())
            yield Transaction(connection, self._written, self._sealer)

    async def get(self, kind: Kind, resource_id: str) -> Message | None:
        async with self.transaction() as tx:
            return await tx.get(kind, resource_id)


def typed(resource: Message | None, message_type: type[_M]) -> _M | None:
    """Narrow a stored resource to its message type (a mismatch is a programming error)."""
    if resource is None:
        return None
    if not isinstance(resource, message_type):
        raise TypeError(f"expected {message_type.__name__}, got {type(resource).__name__}")
    return resource


def _visible(query: _Q) -> _Q:
    """Only the rows of the caller's org and the platform's (all for a platform principal).

    Every read of a resource passes here, so another org's resource is absent everywhere:
    by id, by slug, in lists and in the references a spec names.
    """
    orgs = visible_orgs()
    return query if orgs is None else query.where(resources.c.org.in_(orgs))


def _decode(kind: Kind, data: bytes, sealer: Sealer | None) -> Message:
    message = kind.new()
    message.ParseFromString(data)
    if sealer is not None:
        sealer.open(message, cast(Any, message).metadata.id)
    return message


def _columns(kind: Kind, resource: Message, sealer: Sealer | None) -> dict[str, Any]:
    meta = cast(Any, resource).metadata
    stored = resource
    if sealer is not None and has_secret(resource):
        # Sealed in a copy: the caller goes on using the resource with its values in clear.
        stored = kind.new()
        stored.CopyFrom(resource)
        sealer.seal(stored, meta.id)
    values: dict[str, Any] = {
        "id": meta.id,
        "kind": kind.name,
        "owner_scope": int(meta.owner_scope),
        "org": meta.org,
        "slug": meta.slug,
        "session_id": None,
        "phase": None,
        "version": meta.version,
        "sequence": 0,
        "created_at": meta.created_at.ToDatetime(tzinfo=UTC),
        "updated_at": meta.updated_at.ToDatetime(tzinfo=UTC),
        "data": stored.SerializeToString(deterministic=True),
    }
    if isinstance(resource, AgentExecution):
        values["session_id"] = resource.spec.session_id
        values["phase"] = int(resource.status.phase)
        values["sequence"] = resource.status.sequence
    return values


def _slug_taken(kind: Kind, values: dict[str, Any]) -> AlreadyExists:
    where = f"organization {values['org']!r}" if values["org"] else "this owner scope"
    return AlreadyExists(
        f"metadata.slug: a {kind.name} with slug {values['slug']!r} already exists in {where}"
    )


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def utc_now() -> datetime:
    return datetime.now(UTC)
