"""Execution notices between server replicas over PostgreSQL LISTEN/NOTIFY.

The writer's NOTIFY runs inside its transaction, so another replica hears of a change only
once it is committed and readable. Each replica keeps one asyncpg connection that LISTENs
(and sends previews, which have no transaction). When that connection drops, notices may
have been missed: after reconnecting, every watcher is nudged to read what it lacks from the
execution log. No replica polls the database for changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]

from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.storage import Transaction

logger = logging.getLogger(__name__)

CHANNEL: Final = "stigmer_executions"
_MAX_BACKOFF = 10.0


def libpq_dsn(sqlalchemy_url: str) -> str:
    """postgresql+asyncpg://... -> postgresql://... (asyncpg takes the libpq form)."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgresql") else sqlalchemy_url


class PostgresBroadcaster:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: Any = None
        self._send_lock = asyncio.Lock()
        self.connected = asyncio.Event()

    async def announce(self, tx: Transaction, payload: str) -> None:
        await tx.notify(CHANNEL, payload)

    async def send(self, payload: str) -> None:
        connection = self._connection
        if connection is None or connection.is_closed():
            return
        async with self._send_lock:
            await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def run(self, hub: ExecutionHub, stopping: asyncio.Event) -> None:
        """Listen until `stopping` is set, reconnecting with backoff."""
        delay = 0.5
        first = True
        while not stopping.is_set():
            try:
                lost = await self._listen(hub)
            except (OSError, asyncpg.PostgresError) as error:
                logger.warning(
                    "execution notices: cannot listen (%s); retrying in %.1f s", error, delay
                )
                await _sleep_unless(stopping, delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            delay = 0.5
            if not first:
                hub.nudge_all()
            first = False
            await _first_of(lost.wait(), stopping.wait())
            await self._close()
            if not stopping.is_set():
                logger.warning("execution notices: the listening connection was lost")

    async def _listen(self, hub: ExecutionHub) -> asyncio.Event:
        lost = asyncio.Event()
        connection = await asyncpg.connect(self._dsn)
        connection.add_termination_listener(lambda _c: lost.set())
        await connection.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: hub.receive(payload))
        self._connection = connection
        self.connected.set()
        logger.info("listening for execution notices on %r", CHANNEL)
        return lost

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        self.connected.clear()
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=2)


async def _first_of(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
