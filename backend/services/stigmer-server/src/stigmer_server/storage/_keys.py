"""API key rows: insert, find, list by org, revoke, and the throttled last-used write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from stigmer_server.storage._schema import api_keys


@dataclass(frozen=True)
class KeyRow:
    id: str
    org: str
    name: str
    role: int
    salt: bytes
    secret_hash: bytes
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyRows:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def insert(self, row: KeyRow) -> None:
        await self._c.execute(api_keys.insert().values(**row.__dict__))

    async def get(self, key_id: str) -> KeyRow | None:
        found = (await self._c.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return None if found is None else _row(found)

    async def list_page(self, *, org: str | None, page_size: int, after_id: str) -> list[KeyRow]:
        """Up to `page_size + 1` keys in id order; `org=None` lists every org's."""
        query = select(api_keys)
        if org is not None:
            query = query.where(api_keys.c.org == org)
        if after_id:
            query = query.where(api_keys.c.id > after_id)
        rows = (await self._c.execute(query.order_by(api_keys.c.id).limit(page_size + 1))).all()
        return [_row(row) for row in rows]

    async def revoke(self, key_id: str, when: datetime) -> None:
        await self._c.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=when)
        )

    async def touch(self, key_id: str, when: datetime) -> None:
        await self._c.execute(
            api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=when)
        )


def _row(row: Row[tuple[object, ...]]) -> KeyRow:
    values = row._mapping
    return KeyRow(
        id=values["id"],
        org=values["org"],
        name=values["name"],
        role=values["role"],
        salt=bytes(values["salt"]),
        secret_hash=bytes(values["secret_hash"]),
        created_at=values["created_at"],
        last_used_at=values["last_used_at"],
        revoked_at=values["revoked_at"],
    )
