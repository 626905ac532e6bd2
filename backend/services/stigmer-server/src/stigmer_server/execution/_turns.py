"""One turn at a time per session: who holds the session, and handing it to the next turn.

A turn holds its session from `create` until its workflow has ended (`released`), which is
later than its phase turning final: a cancelled turn is CANCELLED at once, but it lets go of
the session only once the runner has stopped it and its commands are gone, so the next turn
never shares the sandbox or the thread with it. The turn that releases the session signals
the next waiting turn's workflow; that workflow also checks once it has started, so a signal
sent before it existed is not needed (docs/architecture/workflow.md).
"""

from __future__ import annotations

import logging

from stigmer_server import resources as kinds
from stigmer_server.errors import NotFound
from stigmer_server.execution._temporal import TemporalGateway
from stigmer_server.storage import Store, Transaction
from stigmer_server.workflows import SESSION_TURN_RELEASED

logger = logging.getLogger(__name__)


class SessionTurns:
    def __init__(self, store: Store, temporal: TemporalGateway) -> None:
        self._store = store
        self._temporal = temporal

    @staticmethod
    async def holders(tx: Transaction, session_id: str) -> list[str]:
        """The session's turns that hold it now, oldest first."""
        return await tx.executions.unreleased(session_id)

    async def ready(self, execution_id: str) -> bool:
        async with self._store.transaction() as tx:
            head = await tx.executions.head(execution_id)
            if head is None:
                raise NotFound(kinds.AGENT_EXECUTION.name, execution_id, field="execution_id")
            earlier = await tx.executions.unreleased(head.session_id, before=execution_id)
        return not earlier

    async def release(self, execution_id: str) -> None:
        """Mark the turn released and wake the session's next waiting turn, if any."""
        async with self._store.transaction() as tx:
            head = await tx.executions.head(execution_id, for_update=True)
            if head is None or head.released:
                return
            await tx.executions.set_released(execution_id)
            waiting = await tx.executions.unreleased(head.session_id)
        if waiting:
            await self._wake(waiting[0])

    async def _wake(self, execution_id: str) -> None:
        try:
            woken = await self._temporal.signal(execution_id, SESSION_TURN_RELEASED)
        except Exception as error:
            # The waiting turn re-checks on its own (at start and every few minutes).
            logger.warning("could not wake execution %s: %s", execution_id, error)
            return
        logger.info(
            "execution %s: session released to it (workflow running: %s)", execution_id, woken
        )
