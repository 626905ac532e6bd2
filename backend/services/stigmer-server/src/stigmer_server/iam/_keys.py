"""The key registry: authenticating a token, and creating, listing and revoking keys.

Authentication reads a key's row at most once per `CACHE_SECONDS` per replica and writes
its last-used time at most once per `TOUCH_SECONDS`, so a call costs no database write and
usually no read. A revocation is immediate on the replica that made it and reaches the
others within `CACHE_SECONDS`.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from stigmer_server.errors import InvalidArgument, NotFound, PermissionDenied
from stigmer_server.iam._tokens import (
    format_token,
    new_salt,
    new_secret,
    parse_token,
    secret_hash,
    secret_matches,
)
from stigmer_server.ids import IdFactory
from stigmer_server.principal import Principal, Role
from stigmer_server.storage import KeyRow, Store

logger = logging.getLogger(__name__)

CACHE_SECONDS: Final = 10.0
TOUCH_SECONDS: Final = 60.0
_MAX_NAME: Final = 256
_MAX_ORG: Final = 128


@dataclass(frozen=True)
class Page:
    items: list[KeyRow]
    next_page_token: str


class KeyRegistry:
    def __init__(
        self,
        store: Store,
        ids: IdFactory,
        *,
        admin_keys: tuple[str, ...],
        runner_keys: tuple[str, ...] = (),
    ) -> None:
        self._store = store
        self._ids = ids
        self._bootstrap = [
            *((key.encode(), Role.ADMIN, index) for index, key in enumerate(admin_keys)),
            *((key.encode(), Role.RUNNER, index) for index, key in enumerate(runner_keys)),
        ]
        self._rows: dict[str, tuple[KeyRow, float]] = {}
        self._touched: dict[str, float] = {}

    async def authenticate(self, token: str) -> Principal | None:
        bootstrap = self._bootstrap_principal(token)
        if bootstrap is not None:
            return bootstrap
        parsed = parse_token(token)
        if parsed is None:
            return None
        row = await self._row(parsed.key_id)
        if row is None or row.revoked_at is not None:
            return None
        if not secret_matches(row.salt, parsed.secret, row.secret_hash):
            return None
        role = Role.from_proto(row.role)
        if role is None:
            return None
        await self._touch(row.id)
        return Principal(row.id, row.name, row.org, role)

    def _bootstrap_principal(self, token: str) -> Principal | None:
        presented = token.encode()
        # Compare with every key, without stopping early, so timing reveals nothing.
        matches = [
            (hmac.compare_digest(presented, key), role, index)
            for key, role, index in self._bootstrap
        ]
        for matched, role, index in matches:
            if matched:
                name = f"bootstrap-{role.value}-{index}"
                return Principal(name, name, "", role, bootstrap=True)
        return None

    async def _row(self, key_id: str) -> KeyRow | None:
        cached = self._rows.get(key_id)
        now = time.monotonic()
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        async with self._store.transaction() as tx:
            row = await tx.keys.get(key_id)
        if row is None:
            self._rows.pop(key_id, None)
        else:
            self._rows[key_id] = (row, now)
        return row

    async def _touch(self, key_id: str) -> None:
        now = time.monotonic()
        last = self._touched.get(key_id)
        if last is not None and now - last < TOUCH_SECONDS:
            return
        self._touched[key_id] = now
        async with self._store.transaction() as tx:
            await tx.keys.touch(key_id, datetime.now(UTC))

    async def create(
        self, caller: Principal, *, name: str, org: str, role: Role
    ) -> tuple[KeyRow, str]:
        """A new key and its token (the only time the token exists outside the caller)."""
        if not name.strip():
            raise InvalidArgument("metadata.name", "required: a name for the key")
        if len(name) > _MAX_NAME:
            raise InvalidArgument("metadata.name", f"at most {_MAX_NAME} characters")
        if len(org) > _MAX_ORG:
            raise InvalidArgument("metadata.org", f"at most {_MAX_ORG} characters")
        if not caller.platform and not org:
            org = caller.org  # an org's admin makes keys of its org unless told otherwise
        if not caller.platform and org != caller.org:
            raise PermissionDenied(
                f"metadata.org: an admin of org {caller.org!r} creates keys in that org only, "
                f"not in {org!r}"
            )
        secret = new_secret()
        salt = new_salt()
        row = KeyRow(
            id=self._ids.new("key"),
            org=org,
            name=name,
            role=int(role.proto),
            salt=salt,
            secret_hash=secret_hash(salt, secret),
            created_at=datetime.now(UTC),
            last_used_at=None,
            revoked_at=None,
        )
        async with self._store.transaction() as tx:
            await tx.keys.insert(row)
        logger.info("created API key %s (%s, org %r) by %s", row.id, role, org, caller.key_id)
        return row, format_token(row.id, secret)

    async def get(self, caller: Principal, key_id: str) -> KeyRow:
        async with self._store.transaction() as tx:
            row = await tx.keys.get(key_id)
        # Another org's key is as absent as a missing one.
        if row is None or not _visible(caller, row):
            raise NotFound("ApiKey", key_id, field="value")
        return row

    async def list(self, caller: Principal, *, page_size: int, after_id: str) -> Page:
        async with self._store.transaction() as tx:
            rows = await tx.keys.list_page(
                org=None if caller.platform else caller.org,
                page_size=page_size,
                after_id=after_id,
            )
        more = len(rows) > page_size
        rows = rows[:page_size]
        return Page(rows, rows[-1].id if more and rows else "")

    async def revoke(self, caller: Principal, key_id: str) -> KeyRow:
        async with self._store.transaction() as tx:
            row = await tx.keys.get(key_id)
            if row is None or not _visible(caller, row):
                raise NotFound("ApiKey", key_id, field="value")
            await tx.keys.revoke(key_id, datetime.now(UTC))
            revoked = await tx.keys.get(key_id)
        self._rows.pop(key_id, None)
        logger.info("revoked API key %s by %s", key_id, caller.key_id)
        if revoked is None:
            raise RuntimeError(f"ApiKey {key_id!r} vanished inside its transaction")
        return revoked


def _visible(caller: Principal, row: KeyRow) -> bool:
    return caller.platform or row.org == caller.org
