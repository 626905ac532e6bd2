"""The sandbox reaper: deletes our sandboxes whose session is gone or that sat idle too long.

It lists only sandboxes carrying this runner's owner label (for local workspaces: the
directories under the runner's sandbox root), so another owner's sandboxes are never seen,
let alone deleted. A sandbox whose session still exists and that was used recently stays,
even if the session points elsewhere: a turn creates its sandbox before it stores the id,
and deleting in that gap would pull the sandbox from under a running turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import grpc
from grpc import aio

from agent_runner.clients import StigmerClients
from agent_runner.config import ReaperSettings
from agent_runner.metrics import METRICS

if TYPE_CHECKING:
    # The sandbox package loads deepagents; the worker must poll before it has.
    from agent_runner.sandbox import SandboxProvider

logger = logging.getLogger(__name__)

SessionExists = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class Reaped:
    sandbox_id: str
    reason: str


def session_exists(clients: StigmerClients) -> SessionExists:
    async def exists(session_id: str) -> bool:
        try:
            await clients.get_session(session_id)
        except aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return True

    return exists


async def reap_once(
    provider: SandboxProvider,
    exists: SessionExists,
    *,
    idle_ttl: timedelta,
    now: datetime | None = None,
) -> list[Reaped]:
    """One pass; a sandbox that fails to delete is logged and the pass goes on."""
    moment = now or datetime.now(UTC)
    reaped = []
    owned_now = await provider.list_owned()
    METRICS.sandboxes.labels(provider.kind).set(len(owned_now))
    for owned in owned_now:
        if moment - owned.last_active > idle_ttl:
            reason = f"idle since {owned.last_active.isoformat(timespec='seconds')}"
        elif owned.session_id and not await exists(owned.session_id):
            reason = f"session {owned.session_id} is gone"
        else:
            continue
        try:
            deleted = await provider.delete(owned.id)
        except Exception:
            logger.exception("reaper: could not delete sandbox %s (%s)", owned.id, reason)
            continue
        if deleted:
            logger.info("reaper: deleted sandbox %s: %s", owned.id, reason)
            reaped.append(Reaped(owned.id, reason))
    METRICS.sandboxes.labels(provider.kind).set(len(owned_now) - len(reaped))
    return reaped


async def run_reaper(
    provider: Awaitable[SandboxProvider], exists: SessionExists, settings: ReaperSettings
) -> None:
    """Every `settings.interval` seconds until cancelled; the first pass right after start-up."""
    if settings.interval <= 0:
        logger.info("sandbox reaper disabled (interval 0)")
        return
    sandboxes = await provider
    idle_ttl = timedelta(seconds=settings.idle_ttl)
    while True:
        try:
            await reap_once(sandboxes, exists, idle_ttl=idle_ttl)
        except Exception:
            # A pass that cannot list (Daytona or the server down) is retried next interval.
            logger.exception("reaper: pass failed; next one in %.0f s", settings.interval)
        await asyncio.sleep(settings.interval)
